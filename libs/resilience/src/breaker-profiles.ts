import type { BreakerTuning } from './breaker-tuning.js';

/**
 * The breaker tunings the services use, by name, so that one change reaches every breaker of a kind
 * (docs/architecture.md, "Resilience"). Spread one into `createTunedBreaker`'s options.
 */
export const breakerProfiles = {
  /**
   * Calls to etcd and the config-watcher's own upstream: the defaults of `deriveBreakerTimings`
   * (timeout clamp(5 × p99, 1 s, 15 s), reset clamp(2 × timeout, 1 s, 30 s)).
   */
  etcd: {},
  /**
   * (Re)connecting a stream to a peer service (a consumer to its config-watcher or weight-calculator,
   * a prober to a weight-calculator): a short reset (a quarter of the timeout, 0.5–2 s), so that data
   * flows again within a couple of seconds of the peer's return. The timeout itself is a fixed connect
   * bound given by the caller (`connectTimeoutMs`, 5 s by default), not one derived from etcd's watch
   * latency: a peer answers from memory, and the derived "nothing measured yet" ceiling (15 s) kept
   * a resolver on a dead weight-calculator replica for seconds after its leader was killed.
   */
  connect: { resetFactor: 0.25, resetFloorMs: 500, resetCeilingMs: 2000 },
} as const satisfies Record<string, BreakerTuning>;

/** The name of one of {@link breakerProfiles}. */
export type BreakerProfileName = keyof typeof breakerProfiles;
