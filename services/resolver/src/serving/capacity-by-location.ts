import { Health, NodeState } from '@cdn-sched/proto';
import type { NodeTable } from '../decision/index.js';

/** Capacity and weight of the nodes of one pool and location in one health state. */
export interface LocationCapacity {
  pool: string;
  country: string;
  region: string;
  isp: string;
  /** "up", "unknown" (no probe verdict yet; answered), "down" or "drain" (state wins over health). */
  health: 'up' | 'unknown' | 'down' | 'drain';
  capacityRps: number;
  /** Sum of the weights decisions use (0 for down and drained nodes). */
  weight: number;
}

function healthOf(table: NodeTable, i: number): LocationCapacity['health'] {
  if (table.states[i] === NodeState.DRAIN) return 'drain';
  const h = table.health[i];
  if (h === Health.DOWN) return 'down';
  if (h === Health.UP) return 'up';
  return 'unknown';
}

/**
 * Sums the routing table's capacity and weights by (pool, country, region, isp, health): the rows
 * of the `cdn_resolver_capacity_rps` and `cdn_resolver_weight` gauges. Each tier's healthy
 * capacity is an aggregation of them (isp+region: by pool, region, isp; country: by pool,
 * country; …), so one set of series serves every tier without the resolver enumerating candidate
 * groups. A node in several pools counts in each.
 */
export function capacityByLocation(table: NodeTable): LocationCapacity[] {
  const rows = new Map<string, LocationCapacity>();
  for (let i = 0; i < table.count; i++) {
    const doc = table.docs[i]!;
    const health = healthOf(table, i);
    for (const pool of doc.pools) {
      const key = `${pool}\u0000${doc.country}\u0000${doc.region}\u0000${doc.isp}\u0000${health}`;
      let row = rows.get(key);
      if (!row) {
        row = { pool, country: doc.country, region: doc.region, isp: doc.isp, health, capacityRps: 0, weight: 0 };
        rows.set(key, row);
      }
      row.capacityRps += table.capacityRps[i]!;
      row.weight += table.weights[i]!;
    }
  }
  return [...rows.values()];
}
