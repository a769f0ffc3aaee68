import { Health } from '@cdn-sched/proto';
import { requireInteger } from './option-checks.js';
import { popcount } from './popcount.js';

/**
 * Health of one node as seen by one prober, with hysteresis.
 *
 * The state of a (node, prober) pair is packed into one small integer so the weight table can keep
 * it in a `Uint32Array` and update it per probe result without allocating (ingest must sustain
 * ≥ 100 k results/s on one core). The layout is private to this file:
 *
 * - bits 0..19  — failure window, bit 0 = the most recent probe, 1 = that probe failed;
 * - bits 20..27 — consecutive successes, saturating at 255;
 * - bits 28..29 — the {@link Health} value (UNKNOWN, UP or DOWN).
 *
 * Every packed value stays below 2^30, so V8 keeps it a small integer (no heap number).
 *
 * Why a sliding window to go DOWN and a run of successes to come back UP:
 * - Counting F failures among the last W probes (rather than F *consecutive* failures, HAProxy's
 *   `fall`) also catches a flapping edge: alternating ok/fail never produces 3 failures in a row,
 *   yet it fails half of its users' requests. With W=5, F=3 it goes DOWN on the fifth probe.
 * - Requiring U consecutive successes to come back (HAProxy's `rise`, Route 53's healthy
 *   threshold) keeps that flapping edge DOWN: it never strings two successes together, so it does
 *   not flip every interval.
 * - On the way back UP the failure window is cleared: the failures that took the node down must not
 *   take it down again on the first lost probe after recovery.
 */
export interface HysteresisOptions {
  /**
   * Number of most recent probes looked at to decide DOWN (1–20). Defaults to 5: one extra probe on
   * top of F gives room for one or two isolated losses, and at a 5 s probe interval the window
   * spans 25 s, short enough to forget yesterday's incident.
   */
  windowSize: number;
  /**
   * Failures among the last `windowSize` probes that mark the node DOWN (1–windowSize). Defaults
   * to 3, Route 53's default failure threshold and HAProxy's default `fall`: a single lost probe
   * (or two) never moves traffic, and a dead edge is DOWN after 3 probe intervals.
   */
  fallThreshold: number;
  /**
   * Consecutive successes that bring a DOWN node back UP (1–255). Defaults to 2, HAProxy's default
   * `rise`: one lucky probe of a flapping edge is not enough, and a recovered edge is back after
   * two intervals (then slow start ramps its traffic).
   */
  riseThreshold: number;
  /**
   * Consecutive successes that take a node out of UNKNOWN (the state before any result) straight to
   * UP (1–riseThreshold). Defaults to 1, as Envoy does at startup ("during startup, only a single
   * successful health check is required to mark a host healthy"): after a weight-calculator
   * restart the whole fleet is UNKNOWN, and waiting `riseThreshold` intervals would hold every node
   * at its cold-start share for no reason. UNKNOWN goes DOWN by the normal `fallThreshold` rule.
   */
  startupRiseThreshold: number;
}

/** The defaults documented on {@link HysteresisOptions}. */
export const DEFAULT_HYSTERESIS_OPTIONS: Readonly<HysteresisOptions> = Object.freeze({
  windowSize: 5,
  fallThreshold: 3,
  riseThreshold: 2,
  startupRiseThreshold: 1,
});

/** The largest supported `windowSize` (the width of the packed failure window). */
export const MAX_HYSTERESIS_WINDOW = 20;

const RUN_SHIFT = 20;
const RUN_MAX = 0xff;
const HEALTH_SHIFT = 28;
const HEALTH_UNKNOWN = Health.UNKNOWN;
const HEALTH_UP = Health.UP;
const HEALTH_DOWN = Health.DOWN;

/** A per-(node, prober) hysteresis state machine over packed integer states. */
export interface Hysteresis {
  /** The resolved options. */
  readonly options: Readonly<HysteresisOptions>;
  /** The packed state before any result: health UNKNOWN, empty window. */
  readonly initial: number;
  /** The packed state after one more probe result (`ok` = the probe succeeded). Pure. */
  step(state: number, ok: boolean): number;
  /** The health a packed state stands for: UNKNOWN, UP or DOWN. */
  health(state: number): Health;
  /** Failures currently counted in the window of a packed state. */
  failures(state: number): number;
  /** Consecutive successes (saturating at 255) of a packed state. */
  successRun(state: number): number;
}

/** Creates the hysteresis state machine; throws a `RangeError` naming the bad option. */
export function createHysteresis(options: Partial<HysteresisOptions> = {}): Hysteresis {
  const resolved = resolveHysteresisOptions(options);
  const { fallThreshold, riseThreshold, startupRiseThreshold } = resolved;
  const windowMask = (1 << resolved.windowSize) - 1;
  const initial = HEALTH_UNKNOWN << HEALTH_SHIFT;

  const step = (state: number, ok: boolean): number => {
    let window = ((state << 1) | (ok ? 0 : 1)) & windowMask;
    const previousRun = (state >>> RUN_SHIFT) & RUN_MAX;
    const run = ok ? (previousRun === RUN_MAX ? RUN_MAX : previousRun + 1) : 0;
    let health = state >>> HEALTH_SHIFT;
    if (health === HEALTH_DOWN) {
      if (run >= riseThreshold) {
        health = HEALTH_UP;
        window = 0;
      }
    } else if (health === HEALTH_UP) {
      if (popcount(window) >= fallThreshold) health = HEALTH_DOWN;
    } else if (run >= startupRiseThreshold) {
      health = HEALTH_UP;
      window = 0;
    } else if (popcount(window) >= fallThreshold) {
      health = HEALTH_DOWN;
    }
    return (health << HEALTH_SHIFT) | (run << RUN_SHIFT) | window;
  };

  return {
    options: resolved,
    initial,
    step,
    health: (state) => (state >>> HEALTH_SHIFT) as Health,
    failures: (state) => popcount(state & windowMask),
    successRun: (state) => (state >>> RUN_SHIFT) & RUN_MAX,
  };
}

/** Fills in defaults and checks ranges; throws a `RangeError` naming the bad option. */
export function resolveHysteresisOptions(options: Partial<HysteresisOptions>): Readonly<HysteresisOptions> {
  const resolved: HysteresisOptions = {
    windowSize: options.windowSize ?? DEFAULT_HYSTERESIS_OPTIONS.windowSize,
    fallThreshold: options.fallThreshold ?? DEFAULT_HYSTERESIS_OPTIONS.fallThreshold,
    riseThreshold: options.riseThreshold ?? DEFAULT_HYSTERESIS_OPTIONS.riseThreshold,
    startupRiseThreshold: options.startupRiseThreshold ?? DEFAULT_HYSTERESIS_OPTIONS.startupRiseThreshold,
  };
  requireInteger('windowSize', resolved.windowSize, 1, MAX_HYSTERESIS_WINDOW);
  requireInteger('fallThreshold', resolved.fallThreshold, 1, resolved.windowSize);
  requireInteger('riseThreshold', resolved.riseThreshold, 1, RUN_MAX);
  requireInteger('startupRiseThreshold', resolved.startupRiseThreshold, 1, resolved.riseThreshold);
  return Object.freeze(resolved);
}
