import { create } from '@bufbuild/protobuf';
import { NodeState, TierCapacitySchema } from '@cdn-sched/proto';
import type { Node, Tier, TierCapacity } from '@cdn-sched/proto';
import { LOCATION_TIERS, locationKey } from '@cdn-sched/location';

/**
 * Capacity per (pool, tier, location), for capacity-aware spill: a resolver whose client sits in
 * "CN-GD|ct" can see that the ISP_REGION tier of its pool has, say, 20 % of its capacity healthy
 * and spill to the REGION or COUNTRY tier before the remaining nodes are overrun.
 *
 * Location keys, one per tier a node has the codes for, are `locationKey` of @cdn-sched/location
 * ("CN-GD|ct", "CN-GD", "CN|ct", "CN", "*"): the resolver builds the same keys for its candidate
 * groups, which is how it finds their capacity.
 *
 * - total capacity: every node of the pool that is not in MAINTENANCE (maintenance nodes are not
 *   in the weight table at all). A DRAIN node counts in the total: it is provisioned capacity
 *   withheld on purpose, and the spill logic should see the shortfall it leaves.
 * - healthy capacity: nodes that serve now — ACTIVE with a weight > 0, i.e. UP, or UNKNOWN at its
 *   cold-start share or held UP. The sum is of `capacityRps` (what the node is sized for), not of
 *   weights, so a slow-start ramp does not look like missing capacity.
 */

/** One node as the capacity table sees it. */
export interface CapacityEntry {
  /** The node document. */
  node: Node;
  /** Whether the node serves now (ACTIVE and weight > 0). */
  serving: boolean;
}

interface Accumulator {
  pool: string;
  tier: Tier;
  location: string;
  healthy: number;
  total: number;
}

/**
 * The capacity table over `entries`, sorted by pool, then tier (fallback order), then location, so
 * equal inputs give equal outputs. Pure.
 */
export function computeTierCapacities(entries: Iterable<CapacityEntry>): TierCapacity[] {
  const table = new Map<string, Accumulator>();
  for (const { node, serving } of entries) {
    if (node.state === NodeState.MAINTENANCE) continue;
    const healthy = serving && node.state === NodeState.ACTIVE ? node.capacityRps : 0;
    node.pools.forEach((pool, index) => {
      if (node.pools.indexOf(pool) !== index) return;
      for (const tier of LOCATION_TIERS) {
        const location = locationKey(tier, node);
        if (location === undefined) continue;
        const key = `${pool}\u0000${tier}\u0000${location}`;
        let row = table.get(key);
        if (row === undefined) {
          row = { pool, tier, location, healthy: 0, total: 0 };
          table.set(key, row);
        }
        row.healthy += healthy;
        row.total += node.capacityRps;
      }
    });
  }
  return [...table.values()].sort(compareRows).map((row) =>
    create(TierCapacitySchema, {
      pool: row.pool,
      tier: row.tier,
      location: row.location,
      healthyCapacityRps: row.healthy,
      totalCapacityRps: row.total,
    }),
  );
}

/** Whether two capacity tables hold the same rows in the same order. */
export function sameTierCapacities(a: readonly TierCapacity[], b: readonly TierCapacity[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (
      x.pool !== y.pool ||
      x.tier !== y.tier ||
      x.location !== y.location ||
      x.healthyCapacityRps !== y.healthyCapacityRps ||
      x.totalCapacityRps !== y.totalCapacityRps
    ) {
      return false;
    }
  }
  return true;
}

function compareRows(a: Accumulator, b: Accumulator): number {
  if (a.pool !== b.pool) return a.pool < b.pool ? -1 : 1;
  if (a.tier !== b.tier) return a.tier - b.tier;
  if (a.location !== b.location) return a.location < b.location ? -1 : 1;
  return 0;
}
