import { createRendezvousTableBuilder, rendezvousTableBytes, RendezvousScratch, type RendezvousTableBuilder } from '@cdn-sched/rendezvous';
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
 * Quiet time after which a table built from weights other than the group's current ones (though
 * within LOOKUP_STALE_DISTANCE of them) is rebuilt from the current ones, milliseconds. Every
 * resolver replica builds the same table from the same weights, but each one's tables are built at
 * moments of its own during a weight ramp; once the weights stop moving, this makes the replicas'
 * tables, and so their consistent answers, identical again. The weight-calculator publishes only
 * material changes, so steady weights are quiet. 5 s is longer than the pause between the
 * published steps of a default slow start (5 % of the full weight, ~3.3 s apart on a 60 s ramp):
 * with 1 s, a fleet that restarted together — every node taking its step in the same few ticks,
 * then none for 3 s — had every table rebuilt at every step, most of a core for a minute at 10 k
 * nodes (`npm run bench -- slow-start`), although the shares, which the tables follow, hardly
 * moved.
 */
export const LOOKUP_SETTLE_MS = 5000;

/**
 * Groups smaller than this score rendezvous member by member instead (pick.ts). Measured
 * (decide.bench.ts): scoring 15 members for two answers ran ~2 M picks/s against ~30 M from a
 * 16 KiB table, so only a single member goes without one.
 */
export const LOOKUP_MIN_MEMBERS = 2;

/**
 * Largest table (bytes) built for a weight group before any pick asked for it, 1 MiB: every tier
 * group up to about 3,200 members (2-byte positions × 160 slots each). Those are built as soon as
 * their group exists, so that every replica answers from the same table whether or not it has
 * served that group yet. Larger groups — the country and `any` tiers of a fleet of tens of
 * thousands of nodes, 7–60 MB each at 100 k nodes, often reached only by spill — get theirs on
 * the first consistent pick that finds none (it scores rendezvous directly meanwhile, as every
 * group does until its table lands): at 100 k nodes, building every table would take ~600 MB and
 * over a minute of CPU, most of it for tiers no query reaches.
 */
export const LOOKUP_EAGER_MAX_BYTES = 1 << 20;

/** Bytes of `group`'s table (see libs/rendezvous `RendezvousTable`: 2, 2.125 or 4 bytes a slot). */
export function lookupTableBytes(group: CandidateGroup): number {
  return rendezvousTableBytes(group.size, group.lookup.size);
}

/** True when `group` gets a table without waiting for a pick to ask (see LOOKUP_EAGER_MAX_BYTES). */
export function isEagerLookup(group: CandidateGroup, eagerMaxBytes = LOOKUP_EAGER_MAX_BYTES): boolean {
  return group.weighting === 'weight' && lookupTableBytes(group) <= eagerMaxBytes;
}

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
  const builder = createRendezvousTableBuilder(group.hashes, group.weights, group.lookup.size);
  builder.step(Number.MAX_SAFE_INTEGER);
  install(group.lookup, builder, group.weights);
}

function install(cell: LookupCell, builder: RendezvousTableBuilder, weights: Float64Array): void {
  // A table built while every weight was 0 has no owner anywhere: keep none rather than one a
  // pick would have to walk end to end.
  // Both in the same turn: a pick never sees a table with another table's plane.
  cell.table = builder.empty ? null : builder.slots;
  cell.high = builder.empty ? null : builder.high;
  cell.weights = weights;
  cell.settling = null;
}

/** Options of {@link createLookupRefresher}. */
export interface LookupRefresherOptions {
  /** Clock for the slice budget and the settle time, milliseconds. Defaults to performance.now. */
  now?: () => number;
  /** See {@link LOOKUP_SETTLE_MS}; defaults to it. */
  settleMs?: number;
  /** See {@link LOOKUP_EAGER_MAX_BYTES}; defaults to it. */
  eagerMaxBytes?: number;
}

/** Rebuilds stale lookup tables in the background; see {@link createLookupRefresher}. */
export interface LookupRefresher {
  /**
   * Offers groups (the latest copy of each wins). Queued: every weight group with a table of at
   * most `eagerMaxBytes` whose table is missing, stale, or built from other weights that have now
   * been steady for `settleMs`; a larger group, or a best-effort (capacity) one, only once a
   * consistent pick asked for its table.
   */
  offer(groups: Iterable<CandidateGroup>): void;
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
  const settleMs = options.settleMs ?? LOOKUP_SETTLE_MS;
  const eagerMaxBytes = options.eagerMaxBytes ?? LOOKUP_EAGER_MAX_BYTES;
  const queue = new Map<LookupCell, { group: CandidateGroup; settle: boolean }>();
  let current: { cell: LookupCell; builder: RendezvousTableBuilder; weights: Float64Array } | null = null;
  let built = 0;
  // One build at a time, so one set of working arrays for all of them (see RendezvousScratch).
  const scratch = new RendezvousScratch();

  /** True when the table was built from other weights that have now been steady for settleMs. */
  const settled = (group: CandidateGroup): boolean => {
    const cell = group.lookup;
    if (cell.table === null || cell.weights === null || cell.weights === group.weights) return false;
    if (sameWeights(cell.weights, group.weights)) {
      // A full rebuild copies equal weights into a new array: nothing to build.
      cell.weights = group.weights;
      return false;
    }
    if (cell.settling !== group.weights) {
      cell.settling = group.weights;
      cell.settlingSinceMs = now();
      return false;
    }
    return now() - cell.settlingSinceMs >= settleMs;
  };

  return {
    offer(groups) {
      for (const g of groups) {
        const queued = queue.get(g.lookup);
        if (queued !== undefined) queued.group = g;
        else {
          const eager = isEagerLookup(g, eagerMaxBytes);
          if (needsLookup(g, !eager)) queue.set(g.lookup, { group: g, settle: false });
          else if ((eager || g.lookup.wanted) && g.size >= LOOKUP_MIN_MEMBERS && settled(g)) queue.set(g.lookup, { group: g, settle: true });
        }
      }
    },
    run(budgetMs) {
      const deadline = now() + budgetMs;
      do {
        if (current === null) {
          const next = queue.entries().next();
          if (next.done) return true;
          const [cell, { group, settle }] = next.value;
          queue.delete(cell);
          if (settle ? cell.weights === group.weights : !needsLookup(group, false)) continue;
          current = { cell, builder: createRendezvousTableBuilder(group.hashes, group.weights, cell.size, scratch), weights: group.weights };
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

function sameWeights(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
