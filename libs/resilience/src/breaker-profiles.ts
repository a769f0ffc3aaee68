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
   * a prober to a weight-calculator): a timeout of at least 2 s, since a connect on a loaded machine
   * can take a second; and a short reset (a quarter of the timeout, 0.5–2 s), so that data flows again
   * within a couple of seconds of the peer's return.
   */
  connect: { timeoutFloorMs: 2000, resetFactor: 0.25, resetFloorMs: 500, resetCeilingMs: 2000 },
} as const satisfies Record<string, BreakerTuning>;

/** The name of one of {@link breakerProfiles}. */
export type BreakerProfileName = keyof typeof breakerProfiles;
