import { tierName } from '@cdn-sched/location';
import type { Tier, TierCapacity } from '@cdn-sched/proto';
import { rendezvousTableSize, type RendezvousTable, type RendezvousTableHigh } from '@cdn-sched/rendezvous';
import type { NodeTable } from './node-table.js';

/**
 * The candidates of one (pool, tier, location key): every non-maintenance node of the pool at that
 * location, precomputed when the config or the weights change so that a decision is a lookup plus
 * a pick. Positions (0..size-1) index the parallel arrays; `nodes` maps a position to a node index.
 * Drained and DOWN nodes stay listed with weight 0: they count in the tier's total capacity, and
 * keeping rendezvous membership stable means their return moves back only their own clients.
 */
export interface CandidateGroup {
  readonly tier: Tier;
  /** What `weights` holds: node weights, or capacities (the best-effort group). */
  readonly weighting: GroupWeighting;
  /** Location key ("CN-GD|ct", "CN-GD", "CN|ct", "CN", "*"). */
  readonly key: string;
  readonly size: number;
  /** Node index per position. */
  readonly nodes: Int32Array;
  /** hashString(node id) per position: the member hashes of rendezvous hashing. */
  readonly hashes: Uint32Array;
  /** Pick weight per position (node weight, or capacity for the best-effort group). */
  readonly weights: Float64Array;
  /** Running sum of `weights`: cumulative[i] = weights[0] + … + weights[i], searched by pick.ts `searchCumulative`. */
  readonly cumulative: Float64Array;
  readonly totalWeight: number;
  /** Largest pick weight: bounds the rendezvous scores a member can reach (pickConsistent). */
  readonly maxWeight: number;
  /** Positions with a pick weight > 0: the most distinct answers the group can give. */
  readonly pickableCount: number;
  /** Members with a node weight > 0 (ACTIVE, not DOWN, weight-calculator weight > 0). */
  readonly healthyCount: number;
  readonly healthyCapacityRps: number;
  readonly totalCapacityRps: number;
  /** The same two sums over the node table, whichever source the two above come from. */
  readonly nodesHealthyCapacityRps: number;
  readonly nodesTotalCapacityRps: number;
  /**
   * Every member's capacity is a whole number and their total is below 2^53, so the capacity sums
   * are exact in any order: a weight update may adjust them by a member's capacity instead of
   * summing the group again, and still get bit for bit what a full build gets.
   */
  readonly exactCapacitySums: boolean;
  /**
   * healthyCapacityRps / totalCapacityRps, 0 when the total is 0: what capacity-aware spill
   * compares with the threshold. From the weight-calculator's `TierCapacity` when it sent one for
   * this (pool, tier, location), else from the node table (`shareFromWeightCalculator` says which).
   */
  readonly healthyShare: number;
  readonly shareFromWeightCalculator: boolean;
  /** "isp+region CN-GD|ct: 3 healthy of 4", precomputed so the common reason costs nothing. */
  readonly summary: string;
  /**
   * The consistent strategy's lookup table. Shared by every copy of the group with the same
   * members (a weight update copies a group but keeps its cell), so a table built in the
   * background lands in whichever copy decisions use by then.
   */
  readonly lookup: LookupCell;
}

/**
 * A group's lookup table for consistent picks (libs/rendezvous `buildRendezvousTable` over the
 * group's `hashes`): slot → position. `table` is null until built (pickConsistent then scores
 * rendezvous directly, O(size)) and is replaced whole, with `weights`, never written in place. It
 * may lag behind the group's weights by one background rebuild (consistent-lookups.ts); a pick
 * checks the live weight of every answer, so a node drained or DOWN a moment ago is never answered
 * even from an older table.
 */
export interface LookupCell {
  table: RendezvousTable | null;
  /** Bit 16 of each slot's position for tiers of 65,537–131,072 members (libs/rendezvous `RendezvousTableHigh`); replaced with `table`. */
  high: RendezvousTableHigh;
  /**
   * Set by the first consistent pick that found no table. Weight groups with a table of up to
   * LOOKUP_EAGER_MAX_BYTES get one whether or not a pick asked (replicas must agree); larger ones,
   * and best-effort (capacity) groups, used only when a whole pool is down, only once one did.
   */
  wanted: boolean;
  /** The weights `table` was built from (null with it). */
  weights: Float64Array | null;
  /**
   * A group's weights that differ from `weights` but not enough to be stale, and since when they
   * have not changed (consistent-lookups.ts rebuilds the table from them once they have settled).
   */
  settling: Float64Array | null;
  settlingSinceMs: number;
  /** Slot count: fixed by the member count, so membership, not weights, decides it. */
  readonly size: number;
}

/** Which per-node number a group picks by. */
export type GroupWeighting = 'weight' | 'capacity';

/**
 * The per-node array a group's `weights` are taken from, indexed by node: `nodes.weights` or
 * `nodes.capacityRps`, where `nodes` is the node table the group was built or last updated over
 * (a routing table's `nodes`). `weights[p] === pickWeightsByNode(nodes, group)[group.nodes[p]]`
 * for every position p.
 */
export function pickWeightsByNode(nodes: NodeTable, group: CandidateGroup): Float64Array {
  return group.weighting === 'weight' ? nodes.weights : nodes.capacityRps;
}

/**
 * Builds one group. `members` are node indices in the order they will keep (node-table order);
 * `nodeHashes` holds hashString(id) per node index. `capacity` is the weight-calculator's figure
 * for this (pool, tier, location), if any: it is the component that owns health and capacity
 * accounting and shows the same share in its Status, so it wins over the local sum. A drain applied
 * after that figure was computed still takes effect at once here (the node's weight is 0 in
 * `nodes.weights`); only the spill share may lag by one weight update. `lookup`: the cell of an
 * earlier copy of this group with the same members, to keep its table.
 */
export function buildCandidateGroup(
  tier: Tier,
  key: string,
  members: ArrayLike<number>,
  nodes: NodeTable,
  nodeHashes: Uint32Array,
  weighting: GroupWeighting,
  capacity?: TierCapacity,
  lookup?: LookupCell,
): CandidateGroup {
  const size = members.length;
  const indices = new Int32Array(size);
  const hashes = new Uint32Array(size);
  for (let p = 0; p < size; p++) {
    const n = members[p]!;
    indices[p] = n;
    hashes[p] = nodeHashes[n]!;
  }
  return fillGroup(tier, key, indices, hashes, nodes, weighting, capacity, lookup);
}

/**
 * The same group (same members, positions, hashes and lookup cell) over a node table whose weights
 * changed at the nodes of `changed` (one set per update, shared by every group it copies; nodes not
 * in the group are ignored): what a weight-only update builds instead of a new group. The group's
 * changed positions are found by binary search of each changed node when the changes are few
 * against the group's size, else by one scan of the members against the mask; then one pass over
 * the running sums from the first changed position. Equal, field for field, to
 * `buildCandidateGroup` over the new table (weight-update.spec.ts): sums are recomputed in position
 * order rather than adjusted by differences, so not even rounding differs. `previousNodes` is the
 * node table the group was built over.
 */
export function updateCandidateGroup(
  group: CandidateGroup,
  previousNodes: NodeTable,
  nodes: NodeTable,
  changed: ChangedNodes,
  capacity?: TierCapacity,
): CandidateGroup {
  const size = group.size;
  const members = group.nodes;
  const exact = group.exactCapacitySums;
  let first = size;
  let healthChanged = false;
  let healthyCount = group.healthyCount;
  let healthyCapacityRps = group.nodesHealthyCapacityRps;
  const byWeight = group.weighting === 'weight';
  let weights = group.weights;
  let cumulative = group.cumulative;
  let maxWeight = group.maxWeight;
  let maxLost = false;
  let pickableCount = group.pickableCount;
  const count = changedPositions(members, changed);
  for (let c = 0; c < count; c++) {
    const p = positions[c]!;
    const n = members[p]!;
    const before = previousNodes.weights[n]!;
    const after = nodes.weights[n]!;
    if (before > 0 !== after > 0) {
      healthChanged = true;
      healthyCount += after > 0 ? 1 : -1;
      if (exact) healthyCapacityRps += after > 0 ? nodes.capacityRps[n]! : -nodes.capacityRps[n]!;
    }
    if (!byWeight || before === after) continue;
    if (weights === group.weights) ({ weights, cumulative } = copySums(group));
    weights[p] = after;
    if (p < first) first = p;
    if (before > 0 !== after > 0) pickableCount += after > 0 ? 1 : -1;
    if (after > maxWeight) maxWeight = after;
    else if (before === maxWeight) maxLost = true;
  }
  let total = group.totalWeight;
  if (weights !== group.weights) {
    // The running sums before the first changed position stay (copied by copySums); from it on
    // they are summed again in position order (not adjusted by differences), so not even rounding
    // differs.
    total = first > 0 ? cumulative[first - 1]! : 0;
    for (let p = first; p < size; p++) {
      total += weights[p]!;
      cumulative[p] = total;
    }
    if (maxLost) {
      maxWeight = 0;
      for (let p = 0; p < size; p++) if (weights[p]! > maxWeight) maxWeight = weights[p]!;
    }
  }
  // Without whole-number capacities the healthy capacity is a sum over members in position order:
  // summed again (not adjusted) when a member crossed zero, so it stays what a full build computes.
  if (healthChanged && !exact) {
    healthyCapacityRps = 0;
    for (let p = 0; p < size; p++) {
      const n = members[p]!;
      if (nodes.weights[n]! > 0) healthyCapacityRps += nodes.capacityRps[n]!;
    }
  }
  // The summary names the healthy count only: most weight changes leave it, and its string, as is.
  const summary = healthyCount === group.healthyCount ? group.summary : undefined;
  return finishGroup(group.tier, group.key, members, group.hashes, group.weighting, group.lookup, capacity, summary, {
    weights,
    cumulative,
    total,
    pickableCount,
    maxWeight,
    healthyCount,
    healthyCapacityRps,
    totalCapacityRps: group.nodesTotalCapacityRps,
    exactCapacitySums: exact,
  });
}

/** The nodes a weight update changed: the same set as a byte per node index and as an ascending list. */
export interface ChangedNodes {
  /** `mask[n] === 1` for a changed node index `n` (length: the node table's). */
  readonly mask: Uint8Array;
  /** The changed node indices, ascending. */
  readonly list: Int32Array;
}

// Changed positions of the group being updated (updateCandidateGroup runs to completion, so one
// buffer serves every call); grown on demand.
let positions = new Int32Array(1024);

/**
 * Writes the positions of `members` (ascending node indices) that hold a changed node into
 * `positions`, ascending, and returns how many. A binary search per changed node costs
 * ~list × log2(size); a scan of the members, size mask reads: the cheaper one is taken (a
 * 100-node update of a 10 k-node fleet searches its large groups; a whole fleet's slow-start step
 * scans them).
 */
function changedPositions(members: Int32Array, changed: ChangedNodes): number {
  const size = members.length;
  const list = changed.list;
  if (positions.length < Math.min(size, list.length)) positions = new Int32Array(Math.max(size, positions.length * 2));
  let count = 0;
  if (list.length * (32 - Math.clz32(size)) < size) {
    for (let c = 0; c < list.length; c++) {
      const p = positionOf(members, list[c]!);
      if (p >= 0) positions[count++] = p;
    }
  } else {
    const mask = changed.mask;
    for (let p = 0; p < size; p++) if (mask[members[p]!] === 1) positions[count++] = p;
  }
  return count;
}

/** Position of node index `n` in a group's ascending `members`, or -1. */
function positionOf(members: Int32Array, n: number): number {
  let lo = 0;
  let hi = members.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = members[mid]!;
    if (v === n) return mid;
    if (v < n) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * `weights` and `cumulative` live side by side in one buffer (see `newSums`): a weight update copies
 * both with one allocation and one block copy. Allocating a typed array's backing store is what a
 * weight update spent most of its time on (two per group, a few hundred groups per update).
 */
function newSums(size: number): { weights: Float64Array; cumulative: Float64Array } {
  const buffer = new Float64Array(2 * size);
  return { weights: buffer.subarray(0, size), cumulative: buffer.subarray(size) };
}

function copySums(group: CandidateGroup): { weights: Float64Array; cumulative: Float64Array } {
  const { weights, size } = group;
  const buffer = new Float64Array(weights.buffer, weights.byteOffset, 2 * size).slice();
  return { weights: buffer.subarray(0, size), cumulative: buffer.subarray(size) };
}

interface GroupSums {
  weights: Float64Array;
  cumulative: Float64Array;
  total: number;
  pickableCount: number;
  maxWeight: number;
  healthyCount: number;
  healthyCapacityRps: number;
  totalCapacityRps: number;
  exactCapacitySums: boolean;
}

function fillGroup(
  tier: Tier,
  key: string,
  indices: Int32Array,
  hashes: Uint32Array,
  nodes: NodeTable,
  weighting: GroupWeighting,
  capacity: TierCapacity | undefined,
  lookup: LookupCell | undefined,
): CandidateGroup {
  const size = indices.length;
  const { weights, cumulative } = newSums(size);
  let total = 0;
  let pickableCount = 0;
  let maxWeight = 0;
  let healthyCount = 0;
  let healthyCapacityRps = 0;
  let totalCapacityRps = 0;
  let wholeCapacities = true;
  for (let p = 0; p < size; p++) {
    const n = indices[p]!;
    const capacityRps = nodes.capacityRps[n]!;
    if (!Number.isInteger(capacityRps)) wholeCapacities = false;
    const nodeWeight = nodes.weights[n]!;
    const w = weighting === 'weight' ? nodeWeight : capacityRps;
    weights[p] = w;
    total += w;
    if (w > 0) pickableCount++;
    if (w > maxWeight) maxWeight = w;
    cumulative[p] = total;
    totalCapacityRps += capacityRps;
    if (nodeWeight > 0) {
      healthyCount++;
      healthyCapacityRps += capacityRps;
    }
  }
  return finishGroup(tier, key, indices, hashes, weighting, lookup, capacity, undefined, {
    weights,
    cumulative,
    total,
    pickableCount,
    maxWeight,
    healthyCount,
    healthyCapacityRps,
    totalCapacityRps,
    exactCapacitySums: wholeCapacities && totalCapacityRps <= Number.MAX_SAFE_INTEGER,
  });
}

function finishGroup(
  tier: Tier,
  key: string,
  indices: Int32Array,
  hashes: Uint32Array,
  weighting: GroupWeighting,
  lookup: LookupCell | undefined,
  capacity: TierCapacity | undefined,
  summary: string | undefined,
  sums: GroupSums,
): CandidateGroup {
  const { healthyCount, healthyCapacityRps, totalCapacityRps } = sums;
  const size = indices.length;
  // With no member of positive weight the tier cannot answer, whatever a (possibly older)
  // capacity figure says: its share is 0, so it reads as a spill, never as "100% but skipped".
  const fromWeightCalculator = capacity !== undefined && capacity.totalCapacityRps > 0 && healthyCount > 0;
  const healthyShare = fromWeightCalculator
    ? clamp01(capacity.healthyCapacityRps / capacity.totalCapacityRps)
    : totalCapacityRps > 0
      ? healthyCapacityRps / totalCapacityRps
      : 0;
  return {
    tier,
    weighting,
    key,
    size,
    nodes: indices,
    hashes,
    weights: sums.weights,
    cumulative: sums.cumulative,
    totalWeight: sums.total,
    maxWeight: sums.maxWeight,
    pickableCount: sums.pickableCount,
    healthyCount,
    healthyCapacityRps: fromWeightCalculator ? capacity.healthyCapacityRps : healthyCapacityRps,
    totalCapacityRps: fromWeightCalculator ? capacity.totalCapacityRps : totalCapacityRps,
    nodesHealthyCapacityRps: healthyCapacityRps,
    nodesTotalCapacityRps: totalCapacityRps,
    exactCapacitySums: sums.exactCapacitySums,
    healthyShare,
    shareFromWeightCalculator: fromWeightCalculator,
    summary: summary ?? `${tierName(tier)} ${key}: ${healthyCount} healthy of ${size}`,
    lookup: lookup ?? { table: null, high: null, wanted: false, weights: null, settling: null, settlingSinceMs: 0, size: rendezvousTableSize(size) },
  };
}

function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}
