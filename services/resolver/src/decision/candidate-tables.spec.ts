import { Health, NodeState, Tier } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, findDomainIndex, type RoutingTableInput } from './candidate-tables.js';
import { makeCapacity, makeDomain, makeNode, makeWeight } from './fixtures.js';
import { locationId } from '@cdn-sched/location';

function input(over: Partial<RoutingTableInput> = {}): RoutingTableInput {
  return {
    nodes: [
      makeNode('gd-ct-1'),
      makeNode('gd-ct-2', { capacityRps: 300 }),
      makeNode('gd-cu-1', { isp: 'cu' }),
      makeNode('bj-ct-1', { region: 'CN-BJ' }),
      makeNode('us-1', { country: 'US', region: 'US-CA', isp: '' }),
      makeNode('other-pool', { pools: ['video'] }),
    ],
    domains: [makeDomain('a.example')],
    weights: [],
    configVersion: 7n,
    weightsVersion: 0n,
    ...over,
  };
}

function group(table: ReturnType<typeof buildRoutingTable>, tier: Tier, country: string, region: string, isp: string) {
  const id = locationId(
    tier,
    table.countryIds.get(country) ?? -1,
    table.regionIds.get(region) ?? -1,
    table.ispIds.get(isp) ?? -1,
    table.ispStride,
  );
  return table.pools.get('edge')!.tiers[tier]!.get(id);
}

const ids = (table: ReturnType<typeof buildRoutingTable>, g: { nodes: Int32Array } | undefined) =>
  [...(g?.nodes ?? [])].map((n) => table.nodes.ids[n]);

describe('buildRoutingTable', () => {
  it('groups the pool by every location key a node has', () => {
    const t = buildRoutingTable(input());
    expect(ids(t, group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct'))).toEqual(['gd-ct-1', 'gd-ct-2']);
    expect(ids(t, group(t, Tier.REGION, 'CN', 'CN-GD', ''))).toEqual(['gd-ct-1', 'gd-ct-2', 'gd-cu-1']);
    expect(ids(t, group(t, Tier.ISP_COUNTRY, 'CN', '', 'ct'))).toEqual(['gd-ct-1', 'gd-ct-2', 'bj-ct-1']);
    expect(ids(t, group(t, Tier.COUNTRY, 'CN', '', ''))).toEqual(['gd-ct-1', 'gd-ct-2', 'gd-cu-1', 'bj-ct-1']);
    expect(ids(t, group(t, Tier.ANY, '', '', ''))).toEqual(['gd-ct-1', 'gd-ct-2', 'gd-cu-1', 'bj-ct-1', 'us-1']);
    // A node without ISP is in no ISP tier; nodes of other pools are in none of this pool's groups.
    expect(group(t, Tier.ISP_COUNTRY, 'US', '', '')).toBeUndefined();
    expect(ids(t, group(t, Tier.REGION, 'US', 'US-CA', ''))).toEqual(['us-1']);
    expect(t.pools.has('video')).toBe(false);
    const g = group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct')!;
    expect(g.key).toBe('CN-GD|ct');
    expect([...g.cumulative]).toEqual([100, 400]);
    expect(g.summary).toBe('isp+region CN-GD|ct: 2 healthy of 2');
    expect(t.configVersion).toBe(7n);
    expect(t.groupCount).toBe(3 + 3 + 2 + 2 + 1);
  });

  it('leaves maintenance nodes out entirely and gives drained and DOWN nodes weight 0', () => {
    const t = buildRoutingTable(
      input({
        nodes: [
          makeNode('up'),
          makeNode('drain', { state: NodeState.DRAIN }),
          makeNode('down'),
          makeNode('maint', { state: NodeState.MAINTENANCE }),
        ],
        weights: [makeWeight('up'), makeWeight('drain'), makeWeight('down', { health: Health.DOWN }), makeWeight('maint')],
      }),
    );
    expect(t.nodes.ids).toEqual(['up', 'drain', 'down']);
    expect(t.nodes.indexById.has('maint')).toBe(false);
    expect([...t.nodes.weights]).toEqual([100, 0, 0]);
    const g = group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct')!;
    expect(g.size).toBe(3);
    expect(g.healthyCount).toBe(1);
    // Drained capacity is not healthy capacity: a drain reduces the tier's share like a failure.
    expect(g.healthyShare).toBeCloseTo(1 / 3, 12);
    const best = t.pools.get('edge')!.bestEffort;
    expect([...best.weights]).toEqual([100, 100, 100]);
    expect(best.pickableCount).toBe(3);
  });

  it('cold start: without weights every node is UNKNOWN with a weight proportional to capacity', () => {
    const t = buildRoutingTable(input({ weights: undefined }));
    expect([...t.nodes.health].every((h) => h === Health.UNKNOWN)).toBe(true);
    expect([...t.nodes.coldStart].every((c) => c === 1)).toBe(true);
    expect(t.nodes.weights[t.nodes.indexById.get('gd-ct-2')!]).toBe(300);
    expect(t.nodes.weights[t.nodes.indexById.get('gd-ct-1')!]).toBe(100);
    expect(group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct')!.healthyShare).toBe(1);
  });

  it('cold start next to weighed nodes: capacity on the scale of the known weights', () => {
    // Known nodes carry weight 0.5 per rps of capacity; the new node (capacity 300) gets 150.
    const t = buildRoutingTable(
      input({
        weights: [
          makeWeight('gd-ct-1', { weight: 50 }),
          makeWeight('gd-cu-1', { weight: 50 }),
          makeWeight('bj-ct-1', { weight: 50 }),
          makeWeight('us-1', { weight: 50, health: Health.UNSPECIFIED }),
        ],
      }),
    );
    const at = (id: string) => t.nodes.indexById.get(id)!;
    expect(t.nodes.weights[at('gd-ct-2')]).toBe(150);
    expect(t.nodes.coldStart[at('gd-ct-2')]).toBe(1);
    expect(t.nodes.health[at('gd-ct-2')]).toBe(Health.UNKNOWN);
    expect(t.nodes.health[at('us-1')]).toBe(Health.UNKNOWN);
    expect(t.nodes.coldStart[at('gd-ct-1')]).toBe(0);
  });

  it('takes the weight-calculator capacity share when present, else sums the nodes', () => {
    const t = buildRoutingTable(input({ capacities: [makeCapacity('edge', Tier.REGION, 'CN-GD', 120, 400)] }));
    const region = group(t, Tier.REGION, 'CN', 'CN-GD', '')!;
    expect(region.healthyShare).toBeCloseTo(0.3, 12);
    expect(region.shareFromWeightCalculator).toBe(true);
    const ispRegion = group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct')!;
    expect(ispRegion.shareFromWeightCalculator).toBe(false);
    expect(ispRegion.healthyShare).toBe(1);
  });

  it('a tier with no healthy node has share 0 even if an older capacity figure says otherwise', () => {
    const t = buildRoutingTable(
      input({
        weights: [makeWeight('gd-ct-1', { health: Health.DOWN }), makeWeight('gd-ct-2', { health: Health.DOWN })],
        capacities: [makeCapacity('edge', Tier.ISP_REGION, 'CN-GD|ct', 400, 400)],
      }),
    );
    expect(group(t, Tier.ISP_REGION, 'CN', 'CN-GD', 'ct')!.healthyShare).toBe(0);
  });

  it('normalises policies and finds domains case-insensitively, with or without the trailing dot', () => {
    const t = buildRoutingTable(
      input({
        domains: [
          makeDomain('a.example', { answers: 40, fallback: [Tier.REGION, Tier.UNSPECIFIED, Tier.REGION, Tier.ANY] }),
          makeDomain('b.example', { answers: 0, strategy: 0, allDown: 0 }),
        ],
      }),
    );
    expect(t.domains[0]!.answers).toBe(16);
    expect(t.domains[0]!.fallback).toEqual([Tier.REGION, Tier.ANY]);
    expect(t.domains[1]!.answers).toBe(1);
    expect(findDomainIndex(t, 'b.example')).toBe(1);
    expect(findDomainIndex(t, 'B.Example.')).toBe(1);
    expect(findDomainIndex(t, 'c.example')).toBe(-1);
  });

  it('rejects options out of range', () => {
    expect(() => buildRoutingTable(input({ options: { spillThreshold: 1.5 } }))).toThrow(RangeError);
    expect(() => buildRoutingTable(input({ options: { spillThreshold: Number.NaN } }))).toThrow(/spillThreshold/);
    expect(() => buildRoutingTable(input({ options: { minTtlS: -1 } }))).toThrow(/minTtlS/);
    expect(() => buildRoutingTable(input({ options: { shortTtlS: 2.5 } }))).toThrow(/shortTtlS/);
    expect(buildRoutingTable(input()).options).toEqual({ spillThreshold: 0.5, minTtlS: 5, shortTtlS: 10 });
  });

  it('a rebuild is a new table; the old one is untouched and frozen', () => {
    const before = buildRoutingTable(input({ weights: [makeWeight('gd-ct-1', { weight: 10 })], weightsVersion: 1n }));
    const snapshot = [...before.nodes.weights];
    const after = buildRoutingTable(
      input({ weights: [makeWeight('gd-ct-1', { weight: 99, health: Health.DOWN })], weightsVersion: 2n }),
    );
    expect(after).not.toBe(before);
    expect([...before.nodes.weights]).toEqual(snapshot);
    expect(before.weightsVersion).toBe(1n);
    expect(after.weightsVersion).toBe(2n);
    expect(after.nodes.weights[after.nodes.indexById.get('gd-ct-1')!]).toBe(0);
    expect(Object.isFrozen(before)).toBe(true);
  });
});
