import { requireNumber } from './option-checks.js';

/**
 * Damping: the weight of a serving node moves toward its target by a bounded step, so that RTT
 * noise, a burst of loss or a load report does not swing traffic back and forth. Moving a lot of
 * traffic at once is what makes a weight-based balancer oscillate: the node that lost share gets
 * fast, gains share, gets slow again.
 *
 * The bound is a rate, not a per-call step: at most `maxStepFraction` of the node's capacity per
 * `stepIntervalMs`, scaled by the time since the node's weight was last computed. The
 * weight-calculator may tick far more often than probes arrive (to react to a DOWN within
 * milliseconds), and a per-tick bound would then not damp anything. The elapsed time is capped at
 * one `stepIntervalMs`, so a tick after a long pause (GC, stopped process) still moves at most one
 * step.
 *
 * What is *not* damped, on purpose:
 * - a target of 0 (DOWN, DRAIN): that is a decision, not noise, and must take effect on the tick
 *   that made it (edge down → no longer answered within F × probe interval);
 * - a weight of 0 moving up (a node starting to serve): slow start (slow-start.ts) already ramps it,
 *   and damping on top would only delay the first request.
 */
export interface DampingOptions {
  /**
   * Largest weight change per `stepIntervalMs`, as a fraction of the node's capacity (0 < f ≤ 1).
   * Defaults to 0.2: a node goes from full share to nothing by soft signals in five intervals,
   * about the time the loss and RTT estimates need to be trusted anyway.
   */
  maxStepFraction: number;
  /**
   * The period over which `maxStepFraction` may be used, milliseconds. Defaults to 5 000, the
   * prober's default interval: one probe round is one step.
   */
  stepIntervalMs: number;
}

/** The defaults documented on {@link DampingOptions}. */
export const DEFAULT_DAMPING_OPTIONS: Readonly<DampingOptions> = Object.freeze({
  maxStepFraction: 0.2,
  stepIntervalMs: 5_000,
});

/** The bounded-step rule. */
export interface Damping {
  /** The resolved options. */
  readonly options: Readonly<DampingOptions>;
  /**
   * The next weight: `targetWeight` when it is 0 or `currentWeight` is 0; otherwise
   * `currentWeight` moved toward `targetWeight` by at most
   * `maxStepFraction × scaleRps × min(elapsedMs, stepIntervalMs) / stepIntervalMs`. Pure.
   */
  next(currentWeight: number, targetWeight: number, scaleRps: number, elapsedMs: number): number;
}

/** Creates the damping rule; throws a `RangeError` naming a bad option. */
export function createDamping(options: Partial<DampingOptions> = {}): Damping {
  const resolved: DampingOptions = {
    maxStepFraction: options.maxStepFraction ?? DEFAULT_DAMPING_OPTIONS.maxStepFraction,
    stepIntervalMs: options.stepIntervalMs ?? DEFAULT_DAMPING_OPTIONS.stepIntervalMs,
  };
  requireNumber('maxStepFraction', resolved.maxStepFraction, Number.MIN_VALUE, 1);
  requireNumber('stepIntervalMs', resolved.stepIntervalMs, 1, Number.MAX_SAFE_INTEGER);
  const { maxStepFraction, stepIntervalMs } = resolved;

  return {
    options: Object.freeze(resolved),
    next(currentWeight, targetWeight, scaleRps, elapsedMs) {
      if (targetWeight <= 0 || currentWeight <= 0) return targetWeight > 0 ? targetWeight : 0;
      const elapsed = elapsedMs <= 0 ? 0 : elapsedMs >= stepIntervalMs ? stepIntervalMs : elapsedMs;
      const bound = (maxStepFraction * scaleRps * elapsed) / stepIntervalMs;
      const delta = targetWeight - currentWeight;
      if (delta > bound) return currentWeight + bound;
      if (delta < -bound) return currentWeight - bound;
      return targetWeight;
    },
  };
}
