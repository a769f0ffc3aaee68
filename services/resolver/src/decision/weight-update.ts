import { LOCATION_TIERS, locationId } from '@cdn-sched/location';
import { NodeState, type NodeWeight, type TierCapacity } from '@cdn-sched/proto';
import { updateCandidateGroup, type CandidateGroup, type ChangedNodes } from './candidate-group.js';
import {
  capacityKey,
  codeId,
  type DomainPolicy,
  type PoolTable,
  type RoutingTable,
} from './candidate-tables.js';
import { healthOf, knownWeightOf, type NodeTable } from './node-table.js';

/** What changed on the weight stream since the table was built (see {@link applyWeightUpdate}). */
export interface WeightUpdate {
  /** Weights received or changed (upserts); weights of node ids the table does not have are ignored. */
  weights: Iterable<NodeWeight>;
  /** The complete new capacity list when it changed; absent = unchanged. */
  capacities?: readonly TierCapacity[];
  weightsVersion: bigint;
}

/**
 * A weight or health change applied to a table without rebuilding it: the node table's weight and
 * health arrays are copied with the changes, and only the candidate groups that hold a changed
 * node (or whose capacity figure changed) are rebuilt — copy-on-write per group; every other group,
 * and every pool and policy that holds none of them, is shared with the old table. The result is a
 * new table, swapped in whole by the caller, equal to what `buildRoutingTable` would build from the
 * same documents and weights (weight-update.spec.ts checks it); rebuilt groups keep their lookup
 * cell, so consistent picks go on from the old table until the refresher replaces it.
 *
 * Returns undefined when only a full rebuild gives the right answer: while any node is in cold
 * start, its weight is scaled by the sum of every known weight (node-table.ts), so one change
 * moves them all.
 */
export function applyWeightUpdate(table: RoutingTable, update: WeightUpdate): RoutingTable | undefined {
  const steps = weightUpdateSteps(table, update);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * {@link applyWeightUpdate} a piece at a time: the generator yields after every few changed nodes
 * and after every group it copies, and returns the new table (or undefined) when done. A resolver
 * runs it in slices of about a millisecond (routing-state.ts) so that a delta that touches every
 * group — a fleet taking a slow-start step together — never holds the event loop for the tens of
 * milliseconds the whole update takes; decisions meanwhile use the old table, which stays whole.
 * `update.weights` is read in the first step. Nothing in `table` is changed: a generator dropped
 * half-way leaves no trace.
 */
export function* weightUpdateSteps(table: RoutingTable, update: WeightUpdate): Generator<undefined, RoutingTable | undefined, void> {
  const old = table.nodes;
  if (old.coldStartCount > 0) return undefined;

  let weights: Float64Array | null = null;
  let health: Uint8Array | null = null;
  // Node indices whose weight or health changed: one byte per node (and an ascending list, below),
  // shared by every group the update copies.
  let changed: Uint8Array | null = null;
  let count = 0;
  for (const w of update.weights) {
    const i = old.indexById.get(w.nodeId);
    if (i === undefined) continue;
    const weight = old.states[i] === NodeState.DRAIN ? 0 : knownWeightOf(w);
    const h = healthOf(w);
    if (weight === (weights ?? old.weights)[i] && h === (health ?? old.health)[i]) continue;
    weights ??= old.weights.slice();
    health ??= old.health.slice();
    changed ??= new Uint8Array(old.weights.length);
    weights[i] = weight;
    health[i] = h;
    count += 1 - changed[i]!;
    changed[i] = 1;
  }
  const nodes: NodeTable = weights === null ? old : { ...old, weights, health: health! };

  // Groups to copy: their pool, and whether they are a tier's group (which has a capacity figure).
  const affected = new Map<CandidateGroup, Affected>();
  // No weight changed (capacity figures only): groups are copied for their capacity, with no member marked.
  const mask = changed ?? new Uint8Array(old.weights.length);
  const list = new Int32Array(count);
  for (let i = 0, c = 0; c < count; i++) {
    if (mask[i] === 0) continue;
    list[c++] = i;
    collectGroupsOf(table, i, affected);
    if (c % COLLECT_PER_STEP === 0) yield;
  }
  const changedNodes: ChangedNodes = { mask, list };
  let capacities = table.capacities;
  if (update.capacities !== undefined) {
    const next = new Map<string, TierCapacity>();
    for (const c of update.capacities) next.set(capacityKey(c.pool, c.tier, c.location), c);
    for (const [pool, p] of table.pools) {
      for (const tier of LOCATION_TIERS) {
        for (const g of p.tiers[tier]!.values()) {
          const k = capacityKey(pool, tier, g.key);
          if (!sameCapacity(table.capacities.get(k), next.get(k)) && !affected.has(g)) affected.set(g, { pool, inTier: true });
        }
      }
    }
    capacities = next;
  }
  if (affected.size === 0 && nodes === old) {
    return Object.freeze({ ...table, weightsVersion: update.weightsVersion });
  }

  const replaced = new Map<CandidateGroup, CandidateGroup>();
  for (const [g, where] of affected) {
    const capacity = where.inTier ? capacities.get(capacityKey(where.pool, g.tier, g.key)) : undefined;
    replaced.set(g, updateCandidateGroup(g, old, nodes, changedNodes, capacity));
    yield;
  }
  const pools = new Map<string, PoolTable>();
  for (const [name, pool] of table.pools) pools.set(name, replacePoolGroups(pool, replaced));
  const domains = table.domains.map((d): DomainPolicy => {
    const pool = pools.get(d.pool.name)!;
    return pool === d.pool ? d : Object.freeze({ ...d, pool });
  });
  return Object.freeze({
    ...table,
    weightsVersion: update.weightsVersion,
    nodes,
    pools,
    domains,
    capacities,
    // The same groups in the same order as collectConsistentGroups(domains) gives, copies swapped in.
    consistentGroups: table.consistentGroups.map((g) => replaced.get(g) ?? g),
  });
}

// Changed nodes whose groups are collected between two yields (each is a few map operations per tier).
const COLLECT_PER_STEP = 64;

interface Affected {
  pool: string;
  inTier: boolean;
}

/**
 * Adds every group of every pool that holds node `i` to `into`. Indexed loops and no closure: it
 * runs for every changed node of every delta (10 k times a step when a whole fleet ramps), and an
 * iterator, a closure and a list of changed nodes per group were a fifth of what a slow start
 * allocated.
 */
function collectGroupsOf(table: RoutingTable, i: number, into: Map<CandidateGroup, Affected>): void {
  const doc = table.nodes.docs[i]!;
  const country = codeId(table.countryIds, doc.country);
  const region = codeId(table.regionIds, doc.region);
  const isp = codeId(table.ispIds, doc.isp);
  const pools = doc.pools;
  for (let k = 0; k < pools.length; k++) {
    const name = pools[k]!;
    const pool = table.pools.get(name);
    if (pool === undefined) continue;
    for (let t = 0; t < LOCATION_TIERS.length; t++) {
      const tier = LOCATION_TIERS[t]!;
      const id = locationId(tier, country, region, isp, table.ispStride);
      const g = id < 0 ? undefined : pool.tiers[tier]!.get(id);
      if (g !== undefined) addAffected(into, g, name, true);
    }
    // `all` is the `any` tier's group when the pool has one (added above, with its capacity figure).
    addAffected(into, pool.all, name, false);
    addAffected(into, pool.bestEffort, name, false);
  }
}

function addAffected(into: Map<CandidateGroup, Affected>, g: CandidateGroup, pool: string, inTier: boolean): void {
  if (!into.has(g)) into.set(g, { pool, inTier });
}

/** The pool with its replaced groups swapped in (the same object when none of them is in it). */
function replacePoolGroups(pool: PoolTable, replaced: ReadonlyMap<CandidateGroup, CandidateGroup>): PoolTable {
  let tiers: (typeof pool.tiers)[number][] | null = null;
  for (let t = 0; t < pool.tiers.length; t++) {
    const groups = pool.tiers[t]!;
    let copy: Map<number, CandidateGroup> | null = null;
    for (const [id, g] of groups) {
      const next = replaced.get(g);
      if (next === undefined) continue;
      copy ??= new Map(groups);
      copy.set(id, next);
    }
    if (copy !== null) {
      tiers ??= [...pool.tiers];
      tiers[t] = copy;
    }
  }
  const all = replaced.get(pool.all) ?? pool.all;
  const bestEffort = replaced.get(pool.bestEffort) ?? pool.bestEffort;
  if (tiers === null && all === pool.all && bestEffort === pool.bestEffort) return pool;
  return { name: pool.name, tiers: tiers ?? pool.tiers, all, bestEffort };
}

function sameCapacity(a: TierCapacity | undefined, b: TierCapacity | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.healthyCapacityRps === b.healthyCapacityRps && a.totalCapacityRps === b.totalCapacityRps;
}
