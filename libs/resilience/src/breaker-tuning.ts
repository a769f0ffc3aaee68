/** How breaker timings follow the measured etcd watch latency. */
export interface BreakerTuning {
  /** timeout = clamp(timeoutFactor × p99, floor, ceiling). Defaults to 5. */
  timeoutFactor?: number;
  /** Lowest timeout, milliseconds. Defaults to 1000. */
  timeoutFloorMs?: number;
  /** Highest timeout, milliseconds. Defaults to 15000. */
  timeoutCeilingMs?: number;
  /** resetTimeout = clamp(resetFactor × timeout, resetFloor, resetCeiling). Defaults to 2. */
  resetFactor?: number;
  /** Lowest reset timeout, milliseconds. Defaults to 1000. */
  resetFloorMs?: number;
  /** Highest reset timeout, milliseconds. Defaults to 30000. */
  resetCeilingMs?: number;
}

/** Breaker timings derived from one latency figure. */
export interface BreakerTimings {
  timeoutMs: number;
  resetTimeoutMs: number;
}

const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * Derives a breaker's timeout and reset timeout from the p99 etcd watch latency (docs/architecture.md,
 * "Resilience"). A fixed 3 s timeout meets 150 ms of injected latency on every hop, calls that need
 * several round trips exceed it, the breaker opens on a healthy etcd and the fleet flaps; scaling the
 * timeout with the latency we actually observe keeps a slow-but-alive etcd "closed". With no sample
 * yet (NaN) the ceiling applies, so the first calls are not cut short before anything is known.
 */
export function deriveBreakerTimings(p99LatencyMs: number, tuning: BreakerTuning = {}): BreakerTimings {
  const factor = tuning.timeoutFactor ?? 5;
  const floor = tuning.timeoutFloorMs ?? 1000;
  const ceiling = tuning.timeoutCeilingMs ?? 15_000;
  const timeoutMs = Number.isFinite(p99LatencyMs) ? Math.round(clamp(factor * p99LatencyMs, floor, ceiling)) : ceiling;
  const resetTimeoutMs = Math.round(
    clamp((tuning.resetFactor ?? 2) * timeoutMs, tuning.resetFloorMs ?? 1000, tuning.resetCeilingMs ?? 30_000),
  );
  return { timeoutMs, resetTimeoutMs };
}
