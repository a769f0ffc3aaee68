import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, Tier } from '@cdn-sched/proto';
import type { Node, TierCapacity } from '@cdn-sched/proto';
import { computeTierCapacities, sameTierCapacities } from './capacity.js';

function node(id: string, init: Partial<Pick<Node, 'country' | 'region' | 'isp' | 'capacityRps' | 'state' | 'pools'>>): Node {
  return create(NodeSchema, {
    id,
    address: '192.0.2.1',
    port: 80,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacityRps: 100,
    state: NodeState.ACTIVE,
    pools: ['video'],
    ...init,
  });
}

function rows(table: TierCapacity[]): Array<[string, Tier, string, number, number]> {
  return table.map((r) => [r.pool, r.tier, r.location, r.healthyCapacityRps, r.totalCapacityRps]);
}

describe('computeTierCapacities', () => {
  it('sums healthy and total capacity per pool, tier and location', () => {
    const table = computeTierCapacities([
      { node: node('gd-ct-1', { capacityRps: 100 }), serving: true },
      { node: node('gd-ct-2', { capacityRps: 50 }), serving: false },
      { node: node('gd-cu-1', { isp: 'cu', capacityRps: 200 }), serving: true },
      { node: node('bj-ct-1', { region: 'CN-BJ', capacityRps: 300 }), serving: true },
    ]);
    expect(rows(table)).toEqual([
      ['video', Tier.ISP_REGION, 'CN-BJ|ct', 300, 300],
      ['video', Tier.ISP_REGION, 'CN-GD|ct', 100, 150],
      ['video', Tier.ISP_REGION, 'CN-GD|cu', 200, 200],
      ['video', Tier.REGION, 'CN-BJ', 300, 300],
      ['video', Tier.REGION, 'CN-GD', 300, 350],
      ['video', Tier.ISP_COUNTRY, 'CN|ct', 400, 450],
      ['video', Tier.ISP_COUNTRY, 'CN|cu', 200, 200],
      ['video', Tier.COUNTRY, 'CN', 600, 650],
      ['video', Tier.ANY, '*', 600, 650],
    ]);
  });

  it('counts DRAIN in the total only, and leaves MAINTENANCE out entirely', () => {
    const table = computeTierCapacities([
      { node: node('a', { capacityRps: 100 }), serving: true },
      { node: node('b', { capacityRps: 40, state: NodeState.DRAIN }), serving: true },
      { node: node('c', { capacityRps: 1000, state: NodeState.MAINTENANCE }), serving: true },
    ]);
    const any = table.find((r) => r.tier === Tier.ANY);
    expect([any?.healthyCapacityRps, any?.totalCapacityRps]).toEqual([100, 140]);
  });

  it('adds a node to every pool it serves, once per pool even if listed twice', () => {
    const table = computeTierCapacities([
      { node: node('a', { pools: ['video', 'img', 'video'], region: '', isp: '' }), serving: true },
    ]);
    expect(rows(table)).toEqual([
      ['img', Tier.COUNTRY, 'CN', 100, 100],
      ['img', Tier.ANY, '*', 100, 100],
      ['video', Tier.COUNTRY, 'CN', 100, 100],
      ['video', Tier.ANY, '*', 100, 100],
    ]);
  });

  it('is empty for no nodes, and deterministic in its order', () => {
    expect(computeTierCapacities([])).toEqual([]);
    const entries = [
      { node: node('x', { region: 'CN-SH' }), serving: true },
      { node: node('y', { region: 'CN-BJ', isp: 'cm' }), serving: false },
    ];
    const forward = computeTierCapacities(entries);
    const backward = computeTierCapacities([...entries].reverse());
    expect(sameTierCapacities(forward, backward)).toBe(true);
  });

  it('compares tables row by row', () => {
    const a = computeTierCapacities([{ node: node('a', {}), serving: true }]);
    const b = computeTierCapacities([{ node: node('a', {}), serving: false }]);
    expect(sameTierCapacities(a, a)).toBe(true);
    expect(sameTierCapacities(a, b)).toBe(false);
    expect(sameTierCapacities(a, a.slice(1))).toBe(false);
  });
});
