import { requireInteger, requireNumber } from './option-checks.js';

/**
 * Slow start: a node that starts serving again (back UP after DOWN, back to active after drain or
 * maintenance, or brand new) gets a share of its target weight that ramps from a small value to 1
 * over `slowStartMs`, like Envoy's slow start mode. A CDN edge coming back has a cold cache: at
 * full share its misses would all go to the origin at once, and a just-restarted process is often
 * not yet at full speed (JIT, connection pools). Ramping also limits the damage if the node falls
 * over again under load.
 *
 * The ramp starts from a share given by the caller, so a node that was serving at its cold-start
 * share (UNKNOWN, see node-decision.ts) continues from there instead of dipping to `minShare`.
 */
export interface SlowStartOptions {
  /**
   * Length of the ramp, milliseconds; 0 disables slow start (full share at once). Defaults to
   * 60 000: about twelve probe intervals at 5 s, long enough for a CDN edge's hot set to be
   * refilled, short enough that a recovered node carries its share within a minute.
   */
  slowStartMs: number;
  /**
   * Share at the start of a ramp that does not continue from a cold start, 0 < s ≤ 1. Defaults to
   * 0.1, like Envoy's `min_weight_percent` (10 %): enough traffic to see whether the node copes,
   * small enough not to hurt if it does not.
   */
  slowStartMinShare: number;
  /**
   * 0 for a linear ramp; n > 0 for n equal steps (the share jumps at every `slowStartMs / n`).
   * Defaults to 0. Steps suit consumers that cache weights and want fewer updates.
   */
  slowStartSteps: number;
}

/** The defaults documented on {@link SlowStartOptions}. */
export const DEFAULT_SLOW_START_OPTIONS: Readonly<SlowStartOptions> = Object.freeze({
  slowStartMs: 60_000,
  slowStartMinShare: 0.1,
  slowStartSteps: 0,
});

/** The ramp function. */
export interface SlowStart {
  /** The resolved options. */
  readonly options: Readonly<SlowStartOptions>;
  /**
   * Share of the target weight, in [fromShare, 1], `elapsedMs` after a ramp that started at
   * `fromShare`. Negative elapsed time (a clock stepping back) counts as 0. Pure.
   */
  share(fromShare: number, elapsedMs: number): number;
}

/** Creates the ramp; throws a `RangeError` naming a bad option. */
export function createSlowStart(options: Partial<SlowStartOptions> = {}): SlowStart {
  const resolved: SlowStartOptions = {
    slowStartMs: options.slowStartMs ?? DEFAULT_SLOW_START_OPTIONS.slowStartMs,
    slowStartMinShare: options.slowStartMinShare ?? DEFAULT_SLOW_START_OPTIONS.slowStartMinShare,
    slowStartSteps: options.slowStartSteps ?? DEFAULT_SLOW_START_OPTIONS.slowStartSteps,
  };
  requireNumber('slowStartMs', resolved.slowStartMs, 0, Number.MAX_SAFE_INTEGER);
  requireNumber('slowStartMinShare', resolved.slowStartMinShare, Number.MIN_VALUE, 1);
  requireInteger('slowStartSteps', resolved.slowStartSteps, 0, 1_000);
  const { slowStartMs, slowStartSteps } = resolved;

  return {
    options: Object.freeze(resolved),
    share(fromShare, elapsedMs) {
      const from = fromShare < 0 ? 0 : fromShare > 1 ? 1 : fromShare;
      if (slowStartMs === 0 || elapsedMs >= slowStartMs) return 1;
      let progress = elapsedMs <= 0 ? 0 : elapsedMs / slowStartMs;
      if (slowStartSteps > 0) progress = Math.floor(progress * slowStartSteps) / slowStartSteps;
      return from + (1 - from) * progress;
    },
  };
}
