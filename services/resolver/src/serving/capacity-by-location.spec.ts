import { Health, NodeState } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { makeNode, makeWeight } from '../decision/fixtures.js';
import { buildNodeTable } from '../decision/node-table.js';
import { capacityByLocation } from './capacity-by-location.js';

describe('capacityByLocation', () => {
  it('sums capacity and weight by pool, location and health; drain wins over health; a node counts in each of its pools', () => {
    const table = buildNodeTable(
      [
        makeNode('gd-1', { capacityRps: 100, pools: ['music', 'video'] }),
        makeNode('gd-2', { capacityRps: 300, pools: ['music'] }),
        makeNode('gd-3', { capacityRps: 50, pools: ['music'] }),
        makeNode('gd-4', { capacityRps: 70, pools: ['music'], state: NodeState.DRAIN }),
        makeNode('bj-1', { capacityRps: 200, pools: ['music'], region: 'CN-BJ', isp: 'cu' }),
        makeNode('gone', { capacityRps: 999, pools: ['music'], state: NodeState.MAINTENANCE }),
      ],
      [
        makeWeight('gd-1', { weight: 80, health: Health.UP }),
        makeWeight('gd-2', { weight: 240, health: Health.UP }),
        makeWeight('gd-3', { weight: 0, health: Health.DOWN }),
        makeWeight('gd-4', { weight: 56, health: Health.UP }),
      ],
    );
    const rows = capacityByLocation(table).map((r) => `${r.pool} ${r.region} ${r.isp} ${r.health}: ${r.capacityRps} ${r.weight}`);
    expect(rows.sort()).toEqual([
      // bj-1 has no weight yet: UNKNOWN, answered at the weighed nodes' scale (376 / 470 = 0.8 of capacity).
      'music CN-BJ cu unknown: 200 160',
      'music CN-GD ct down: 50 0',
      'music CN-GD ct drain: 70 0',
      'music CN-GD ct up: 400 320',
      'video CN-GD ct up: 100 80',
    ]);
  });

  it('gives no rows for an empty table', () => {
    expect(capacityByLocation(buildNodeTable([], []))).toEqual([]);
  });
});
