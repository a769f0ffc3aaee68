import { createRendezvousTableBuilder, type RendezvousTableBuilder } from '@cdn-sched/rendezvous';
import type { CandidateGroup, LookupCell } from './candidate-group.js';

/**
 * Lookup tables for consistent picks: which groups need one, when one has fallen behind the
 * weights, and a refresher that (re)builds them a slice at a time so that a 10 k-member tier's
 * 2 M-slot table never holds the event loop for more than the slice budget.
 */

/**
 * Share of the keys a table may send differently from fresh weights before it is rebuilt: the
 * total variation distance between the weight shares it was built with and the current ones.
 * During a slow start every weight moves every tick; a rebuild each tick would cost a core, and
 * a few percent of keys on a neighbour's edge for a second is what consistent hashing tolerates
 * anyway. A node going from weight 0 to > 0 always counts as stale (it has no slot yet); one going
 * to 0 is skipped by the pick at once, so it only adds to the distance.
 */
export const LOOKUP_STALE_DISTANCE = 0.05;

/**
 * Groups smaller than this score rendezvous member by member instead (pick.ts). Measured
 * (decide.bench.ts): scoring 15 members for two answers ran ~2 M picks/s against ~30 M from a
 * 16 KiB table, so only a single member goes without one.
 */
export const LOOKUP_MIN_MEMBERS = 2;

/** True when `group` should have a table built (or rebuilt) now. */
export function needsLookup(group: CandidateGroup, onlyWanted: boolean): boolean {
  if (group.size < LOOKUP_MIN_MEMBERS) return false;
  if (onlyWanted && !group.lookup.wanted) return false;
  return group.lookup.weights !== group.weights && isLookupStale(group);
}

/** True when `group`'s table is missing or was built from weights too far from the current ones. */
export function isLookupStale(group: CandidateGroup): boolean {
  const cell = group.lookup;
  if (group.pickableCount === 0) return false; // nothing to pick: an old table does no harm
  if (cell.table === null || cell.weights === null) return true;
  const built = cell.weights;
  const now = group.weights;
  let builtTotal = 0;
  let nowTotal = 0;
  for (let p = 0; p < group.size; p++) {
    builtTotal += built[p]!;
    nowTotal += now[p]!;
  }
  if (!(builtTotal > 0)) return true;
  let distance = 0;
  for (let p = 0; p < group.size; p++) {
    if (now[p]! > 0 && !(built[p]! > 0)) return true;
    distance += Math.abs(now[p]! / nowTotal - built[p]! / builtTotal);
  }
  return distance / 2 > LOOKUP_STALE_DISTANCE;
}

/** Builds `group`'s table now, in one go (start-up, tests, benchmarks). */
export function buildLookupNow(group: CandidateGroup): void {
  const builder = createRendezvousTableBuilder(group.hashes, group.weights, group.lookup.bits);
  builder.step(Number.MAX_SAFE_INTEGER);
  install(group.lookup, builder, group.weights);
}

function install(cell: LookupCell, builder: RendezvousTableBuilder, weights: Float64Array): void {
  // A table built while every weight was 0 has no owner anywhere: keep none rather than one a
  // pick would have to walk end to end.
  cell.table = builder.slots[0] === -1 ? null : builder.slots;
  cell.weights = weights;
}

/** Options of {@link createLookupRefresher}. */
export interface LookupRefresherOptions {
  /** Clock for the slice budget, milliseconds. Defaults to performance.now. */
  now?: () => number;
}

/** Rebuilds stale lookup tables in the background; see {@link createLookupRefresher}. */
export interface LookupRefresher {
  /**
   * Offers groups (the latest copy of each wins); those that need a table are queued — only the
   * ones a consistent pick has asked for, unless `onlyWanted` is false.
   */
  offer(groups: Iterable<CandidateGroup>, onlyWanted?: boolean): void;
  /**
   * Works for about `budgetMs` (one slice of a table at least), installing every table it
   * completes. Returns true when nothing is left to do.
   */
  run(budgetMs: number): boolean;
  /** Tables queued or in progress. */
  readonly pending: number;
  /** Tables completed so far. */
  readonly built: number;
}

// Members per builder step between clock reads: ~1,000 slot draws each in the largest tiers.
const MEMBERS_PER_STEP = 8;

/**
 * Keeps lookup tables in step with the groups offered to it: a queue of cells, the latest group
 * copy per cell, and one table in progress at a time. A table is built from a group's weight
 * snapshot (a copy's arrays never change) and installed into the shared cell when complete; if
 * the weights moved on meanwhile, the next offer finds it stale again and queues it.
 */
export function createLookupRefresher(options: LookupRefresherOptions = {}): LookupRefresher {
  const now = options.now ?? (() => performance.now());
  const queue = new Map<LookupCell, CandidateGroup>();
  let current: { cell: LookupCell; builder: RendezvousTableBuilder; weights: Float64Array } | null = null;
  let built = 0;

  return {
    offer(groups, onlyWanted = true) {
      for (const g of groups) {
        if (queue.has(g.lookup) || needsLookup(g, onlyWanted)) queue.set(g.lookup, g);
      }
    },
    run(budgetMs) {
      const deadline = now() + budgetMs;
      do {
        if (current === null) {
          const next = queue.entries().next();
          if (next.done) return true;
          const [cell, group] = next.value;
          queue.delete(cell);
          if (!needsLookup(group, false)) continue;
          current = { cell, builder: createRendezvousTableBuilder(group.hashes, group.weights, cell.bits), weights: group.weights };
        }
        if (current.builder.step(MEMBERS_PER_STEP)) {
          install(current.cell, current.builder, current.weights);
          built++;
          current = null;
        }
      } while (now() < deadline);
      return current === null && queue.size === 0;
    },
    get pending() {
      return queue.size + (current === null ? 0 : 1);
    },
    get built() {
      return built;
    },
  };
}
