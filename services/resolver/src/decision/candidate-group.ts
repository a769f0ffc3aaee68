import type { Tier, TierCapacity } from '@cdn-sched/proto';
import type { NodeTable } from './node-table.js';
import { rendezvousTableBits } from '@cdn-sched/rendezvous';
import { tierName } from './tiers.js';

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
  /** Running sum of `weights`: cumulative[i] = weights[0] + … + weights[i], for binary search. */
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
  table: Int32Array | null;
  /**
   * Set by the first consistent pick that found no table: only groups decisions actually use get
   * one (a fleet's `country` and `any` tiers are often only fallbacks, and their tables are the
   * largest).
   */
  wanted: boolean;
  /** The weights `table` was built from (null with it). */
  weights: Float64Array | null;
  /** log2 of the slot count: fixed by the member count, so membership, not weights, decides it. */
  readonly bits: number;
}

/** Which per-node number a group picks by. */
export type GroupWeighting = 'weight' | 'capacity';

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
  const indices = Int32Array.from(members);
  const hashes = new Uint32Array(size);
  const weights = new Float64Array(size);
  const cumulative = new Float64Array(size);
  let total = 0;
  let pickableCount = 0;
  let maxWeight = 0;
  let healthyCount = 0;
  let healthyCapacityRps = 0;
  let totalCapacityRps = 0;
  for (let p = 0; p < size; p++) {
    const n = indices[p]!;
    hashes[p] = nodeHashes[n]!;
    const capacityRps = nodes.capacityRps[n]!;
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
    weights,
    cumulative,
    totalWeight: total,
    maxWeight,
    pickableCount,
    healthyCount,
    healthyCapacityRps: fromWeightCalculator ? capacity.healthyCapacityRps : healthyCapacityRps,
    totalCapacityRps: fromWeightCalculator ? capacity.totalCapacityRps : totalCapacityRps,
    healthyShare,
    shareFromWeightCalculator: fromWeightCalculator,
    summary: `${tierName(tier)} ${key}: ${healthyCount} healthy of ${size}`,
    lookup: lookup ?? { table: null, wanted: false, weights: null, bits: rendezvousTableBits(size) },
  };
}

function clamp01(x: number): number {
  return x > 0 ? (x < 1 ? x : 1) : 0;
}
