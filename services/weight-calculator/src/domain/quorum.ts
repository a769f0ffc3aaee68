import { Health } from '@cdn-sched/proto';
import { requireInteger, requireNumber } from './option-checks.js';

/**
 * Node health across probers, in the spirit of Apache Traffic Control's Traffic Monitor peer view:
 * each prober has its own hysteresis state for the node (health-state.ts); a node is DOWN only if a
 * strict majority of the probers that currently vote say so.
 *
 * - A prober *reports* for a node while its last result for that node arrived less than
 *   `freshnessTtlMs` ago (arrival time on the weight-calculator's clock, so prober clock skew
 *   cannot make a silent prober look alive). A stale prober neither votes nor counts.
 * - A reporting prober *votes* UP or DOWN once its hysteresis has left UNKNOWN; while it is still
 *   UNKNOWN (a few failures, fewer than the fall threshold, since it started watching) it abstains:
 *   counting it as "not DOWN" would bias the majority toward UP on evidence that leans DOWN.
 * - Majority is strict: with two voters both must say DOWN. One prober whose own network path is
 *   broken cannot take a healthy edge out of rotation; the cost is that a real failure is
 *   confirmed only when the second prober's fall threshold is also reached, which is still within
 *   F probe intervals of the failure because every prober probes every interval.
 * - With fewer than `minProbers` voters there is no decision: UNKNOWN. What the weight then does
 *   (hold the last decision, then fall to cold start) is node-decision.ts's job.
 */
export interface QuorumOptions {
  /**
   * A prober reports for a node while its last result for the node is younger than this, in
   * milliseconds. Defaults to 15 000: three of the prober's default 5 s intervals, so one late batch
   * or a reconnect does not silence a prober, while a prober that is gone stops voting in 15 s.
   */
  freshnessTtlMs: number;
  /**
   * Fewest voting probers for a decision (≥ 1); fewer means UNKNOWN. Defaults to 1: when only one
   * prober still watches a node (the others crashed or are partitioned away), trusting it is better
   * than freezing — a frozen "UP" keeps sending users to an edge that may be dead. The probers'
   * replication factor (≥ 2 in production) normally gives every node two or more voters, and then
   * the strict majority applies. Fleets with three or more probers per node can set 2.
   */
  minProbers: number;
}

/** The defaults documented on {@link QuorumOptions}. */
export const DEFAULT_QUORUM_OPTIONS: Readonly<QuorumOptions> = Object.freeze({
  freshnessTtlMs: 15_000,
  minProbers: 1,
});

/** Votes of the reporting probers of one node; reused across nodes to avoid allocation. */
export interface VoteTally {
  /** Reporting probers whose hysteresis says UP. */
  up: number;
  /** Reporting probers whose hysteresis says DOWN. */
  down: number;
  /** Reporting probers still UNKNOWN (abstaining). */
  abstaining: number;
}

/** The majority rule over per-prober votes. */
export interface Quorum {
  /** The resolved options. */
  readonly options: Readonly<QuorumOptions>;
  /** Whether a prober whose last result arrived at `lastReceivedAtMs` still reports at `nowMs`. */
  isFresh(lastReceivedAtMs: number, nowMs: number): boolean;
  /** Adds one prober's view to `tally` if it is fresh; returns whether it was. */
  add(tally: VoteTally, health: Health, lastReceivedAtMs: number, nowMs: number): boolean;
  /** UP, DOWN, or UNKNOWN when fewer than `minProbers` vote. */
  decide(tally: VoteTally): Health;
}

/** Creates the majority rule; throws a `RangeError` naming a bad option. */
export function createQuorum(options: Partial<QuorumOptions> = {}): Quorum {
  const resolved: QuorumOptions = {
    freshnessTtlMs: options.freshnessTtlMs ?? DEFAULT_QUORUM_OPTIONS.freshnessTtlMs,
    minProbers: options.minProbers ?? DEFAULT_QUORUM_OPTIONS.minProbers,
  };
  requireNumber('freshnessTtlMs', resolved.freshnessTtlMs, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('minProbers', resolved.minProbers, 1, 1_000);
  const { freshnessTtlMs, minProbers } = resolved;

  const isFresh = (lastReceivedAtMs: number, nowMs: number): boolean =>
    nowMs - lastReceivedAtMs < freshnessTtlMs;

  return {
    options: Object.freeze(resolved),
    isFresh,
    add(tally, health, lastReceivedAtMs, nowMs) {
      if (!isFresh(lastReceivedAtMs, nowMs)) return false;
      if (health === Health.UP) tally.up++;
      else if (health === Health.DOWN) tally.down++;
      else tally.abstaining++;
      return true;
    },
    decide(tally) {
      const voters = tally.up + tally.down;
      if (voters < minProbers) return Health.UNKNOWN;
      return tally.down * 2 > voters ? Health.DOWN : Health.UP;
    },
  };
}

/** A tally with no votes. */
export function createVoteTally(): VoteTally {
  return { up: 0, down: 0, abstaining: 0 };
}

/** Clears `tally` for the next node. */
export function resetVoteTally(tally: VoteTally): void {
  tally.up = 0;
  tally.down = 0;
  tally.abstaining = 0;
}
