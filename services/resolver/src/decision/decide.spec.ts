import { AllDownPolicy, Health, NodeState, Strategy, Tier, type Domain, type Node, type NodeWeight } from '@cdn-sched/proto';
import { hashU32 } from '@cdn-sched/rendezvous';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, codeId, type RoutingTable, type RoutingTableOptions } from './candidate-tables.js';
import { decide } from './decide.js';
import { createDecisionQuery, createDecisionResult, DecisionStatus, ReasonCode, type DecisionQuery } from './decision-result.js';
import { makeCapacity, makeDomain, makeNode, makeWeight } from './fixtures.js';
import { formatReason } from './format-reason.js';
import { createRng } from './random.js';
import type { LocationCodes } from '@cdn-sched/location';

// Pool "edge": 4 telecom + 2 unicom nodes in Guangdong, 2 telecom in Beijing, 1 in California.
const FLEET: Node[] = [
  ...[1, 2, 3, 4].map((i) => makeNode(`gd-ct-${i}`)),
  ...[1, 2].map((i) => makeNode(`gd-cu-${i}`, { isp: 'cu' })),
  ...[1, 2].map((i) => makeNode(`bj-ct-${i}`, { region: 'CN-BJ' })),
  makeNode('us-1', { country: 'US', region: 'US-CA', isp: '' }),
];
const GD_CT: LocationCodes = { country: 'CN', region: 'CN-GD', isp: 'ct' };

interface Setup {
  nodes?: Node[];
  domains?: Domain[];
  down?: string[];
  weights?: NodeWeight[];
  options?: RoutingTableOptions;
}

function table(s: Setup = {}): RoutingTable {
  const nodes = s.nodes ?? FLEET;
  const down = new Set(s.down ?? []);
  return buildRoutingTable({
    nodes,
    domains: s.domains ?? [makeDomain('a.example')],
    weights: s.weights ?? nodes.map((n) => makeWeight(n.id, down.has(n.id) ? { health: Health.DOWN } : {})),
    configVersion: 1n,
    weightsVersion: 1n,
    options: s.options,
  });
}

function ask(t: RoutingTable, location: LocationCodes, over: Partial<DecisionQuery> = {}) {
  const query = Object.assign(createDecisionQuery(createRng(42)), { domain: 'a.example', location }, over);
  const result = decide(t, query, createDecisionResult());
  const ids = [...result.nodes.subarray(0, result.count)].map((n) => t.nodes.ids[n]!);
  return { result, ids, reason: formatReason(t, result) };
}

/** Node ids answered over many weighted decisions (one query object, fresh random draws). */
function answered(t: RoutingTable, location: LocationCodes, n: number, over: Partial<DecisionQuery> = {}): Set<string> {
  const query = Object.assign(createDecisionQuery(createRng(7)), { domain: 'a.example', location }, over);
  const out = createDecisionResult();
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    query.clientKeyHash = hashU32(i << 8);
    decide(t, query, out);
    for (let a = 0; a < out.count; a++) seen.add(t.nodes.ids[out.nodes[a]!]!);
  }
  return seen;
}

describe('decide: tier choice', () => {
  it('answers from the first tier of the chain, in the policy order', () => {
    const t = table();
    const { result, ids, reason } = ask(t, GD_CT);
    expect(result.status).toBe(DecisionStatus.OK);
    expect(result.reason).toBe(ReasonCode.TIER);
    expect(result.tier).toBe(Tier.ISP_REGION);
    expect(ids[0]).toMatch(/^gd-ct-/);
    expect(reason).toBe('isp+region CN-GD|ct: 4 healthy of 4');
    expect(result.degraded).toBe(false);
    expect(result.ttlS).toBe(300);

    const regionFirst = table({ domains: [makeDomain('a.example', { fallback: [Tier.REGION, Tier.ISP_REGION] })] });
    expect(ask(regionFirst, GD_CT).reason).toBe('region CN-GD: 6 healthy of 6');
    const countryOnly = table({ domains: [makeDomain('a.example', { fallback: [Tier.COUNTRY] })] });
    expect(ask(countryOnly, GD_CT).reason).toBe('country CN: 8 healthy of 8');
  });

  it("reads the caller's code ids when they are for this table, and looks the codes up otherwise", () => {
    const t = table();
    const bj = { countryId: codeId(t.countryIds, 'CN'), regionId: codeId(t.regionIds, 'CN-BJ'), ispId: codeId(t.ispIds, 'ct') };
    expect(Math.min(bj.countryId, bj.regionId, bj.ispId)).toBeGreaterThanOrEqual(0);
    // Ids of Beijing with the location text of Guangdong: the ids win when they are this table's ...
    expect(answered(t, GD_CT, 200, { codesOf: t, ...bj })).toEqual(new Set(['bj-ct-1', 'bj-ct-2']));
    // ... and the text when they are another table's, or nobody's.
    expect(answered(t, GD_CT, 200, { codesOf: table(), ...bj })).toEqual(new Set(['gd-ct-1', 'gd-ct-2', 'gd-ct-3', 'gd-ct-4']));
    expect(answered(t, GD_CT, 200, { codesOf: null, ...bj })).toEqual(new Set(['gd-ct-1', 'gd-ct-2', 'gd-ct-3', 'gd-ct-4']));
    // Unknown codes (−1) skip the tiers they key, as empty codes do.
    expect(ask(t, GD_CT, { codesOf: t, countryId: -1, regionId: -1, ispId: -1 }).result.tier).toBe(ask(t, { country: '', region: '', isp: '' }).result.tier);
  });

  it('skips, without calling it a spill, tiers whose location is unknown or has no node', () => {
    const t = table();
    const cases: [LocationCodes, string][] = [
      [{ country: 'CN', region: 'CN-GD', isp: '' }, 'region CN-GD: 6 healthy of 6'],
      [{ country: 'CN', region: 'CN-GD', isp: 'cm' }, 'region CN-GD: 6 healthy of 6'],
      [{ country: 'CN', region: 'CN-XZ', isp: 'ct' }, 'isp+country CN|ct: 6 healthy of 6'],
      [{ country: 'CN', region: '', isp: '' }, 'country CN: 8 healthy of 8'],
      [{ country: 'US', region: 'US-CA', isp: 'att' }, 'region US-CA: 1 healthy of 1'],
      [{ country: 'FR', region: 'FR-IDF', isp: 'orange' }, 'any *: 9 healthy of 9'],
      [{ country: '', region: '', isp: '' }, 'any *: 9 healthy of 9'],
    ];
    for (const [location, expected] of cases) {
      const { result, reason } = ask(t, location);
      expect(reason).toBe(expected);
      expect(result.reason).toBe(ReasonCode.TIER);
      expect(result.spilledFrom).toBeNull();
      expect(result.ttlS).toBe(300);
    }
  });

  it('stays on a tier at exactly the threshold and shortens the TTL by its healthy share', () => {
    const { result, ids, reason } = ask(table({ down: ['gd-ct-1', 'gd-ct-2'] }), GD_CT, { answers: 4 });
    expect(result.reason).toBe(ReasonCode.TIER);
    expect(reason).toBe('isp+region CN-GD|ct: 2 healthy of 4');
    expect(ids.sort()).toEqual(['gd-ct-3', 'gd-ct-4']);
    expect(result.ttlS).toBe(150);
  });

  it('spills to the next tier below the threshold, with a short TTL', () => {
    const { result, ids, reason } = ask(table({ down: ['gd-ct-1', 'gd-ct-2', 'gd-ct-3'] }), GD_CT, { answers: 6 });
    expect(result.reason).toBe(ReasonCode.SPILL);
    expect(result.tier).toBe(Tier.REGION);
    expect(reason).toBe('spill: isp+region CN-GD|ct at 25% healthy capacity < 50%; region CN-GD: 3 healthy of 6');
    expect(ids.sort()).toEqual(['gd-ct-4', 'gd-cu-1', 'gd-cu-2']);
    expect(result.ttlS).toBe(10);
    expect(result.degraded).toBe(false);
  });

  it('keeps spilling down the chain and names the first tier it left', () => {
    // isp+region 0/4, region 2/6, isp+country 2/6, country 4/8 = 50%.
    const { result, reason } = ask(table({ down: ['gd-ct-1', 'gd-ct-2', 'gd-ct-3', 'gd-ct-4'] }), GD_CT);
    expect(result.tier).toBe(Tier.COUNTRY);
    expect(reason).toBe('spill: isp+region CN-GD|ct at 0% healthy capacity < 50%; country CN: 4 healthy of 8');
  });

  it('honours the configured threshold, 0 meaning never spill', () => {
    const down = ['gd-ct-1', 'gd-ct-2', 'gd-ct-3'];
    const low = ask(table({ down, options: { spillThreshold: 0.25 } }), GD_CT);
    expect(low.result.reason).toBe(ReasonCode.TIER);
    expect(low.result.ttlS).toBe(75);
    expect(ask(table({ down, options: { spillThreshold: 0.26 } }), GD_CT).result.reason).toBe(ReasonCode.SPILL);
    expect(ask(table({ down, options: { spillThreshold: 0 } }), GD_CT).result.tier).toBe(Tier.ISP_REGION);
  });

  it('spills on the weight-calculator capacity share even when every node is up', () => {
    const t = buildRoutingTable({
      nodes: FLEET,
      domains: [makeDomain('a.example')],
      weights: FLEET.map((n) => makeWeight(n.id)),
      capacities: [makeCapacity('edge', Tier.ISP_REGION, 'CN-GD|ct', 120, 400)],
      configVersion: 1n,
      weightsVersion: 1n,
    });
    expect(ask(t, GD_CT).reason).toBe('spill: isp+region CN-GD|ct at 30% healthy capacity < 50%; region CN-GD: 6 healthy of 6');
  });

  it('below the threshold everywhere: the first tier with healthy nodes, degraded', () => {
    const { result, reason } = ask(table({ down: ['gd-ct-1'], options: { spillThreshold: 0.9 } }), GD_CT);
    expect(result.reason).toBe(ReasonCode.BELOW_THRESHOLD);
    expect(result.tier).toBe(Tier.ISP_REGION);
    expect(result.degraded).toBe(true);
    expect(result.ttlS).toBe(10);
    expect(reason).toBe('below threshold: every tier under 90% healthy capacity; isp+region CN-GD|ct at 75%: 3 healthy of 4');
  });
});

describe('decide: nothing healthy for the client', () => {
  const localOnly = (allDown: AllDownPolicy) => [makeDomain('a.example', { fallback: [Tier.ISP_REGION, Tier.REGION], allDown })];

  it('best effort answers the pool healthy nodes when the chain does not cover the client', () => {
    const t = table({ domains: localOnly(AllDownPolicy.BEST_EFFORT) });
    const { result, reason } = ask(t, { country: 'FR', region: 'FR-IDF', isp: '' });
    expect(result.reason).toBe(ReasonCode.OUTSIDE_CHAIN);
    expect(result.tier).toBe(Tier.ANY);
    expect(result.degraded).toBe(true);
    expect(result.count).toBe(1);
    expect(result.ttlS).toBe(10);
    expect(reason).toBe('outside chain: no healthy node for this client in isp+region, region; pool edge: 9 healthy of 9');
    const down = table({ domains: localOnly(AllDownPolicy.BEST_EFFORT), down: ['gd-ct-1', 'gd-ct-2', 'gd-ct-3', 'gd-ct-4', 'gd-cu-1', 'gd-cu-2'] });
    const seen = answered(down, GD_CT, 500);
    expect([...seen].sort()).toEqual(['bj-ct-1', 'bj-ct-2', 'us-1']);
  });

  it('best effort, whole pool down: every non-maintenance node by capacity, drained included', () => {
    const nodes = [...FLEET, makeNode('drained', { state: NodeState.DRAIN }), makeNode('maint', { state: NodeState.MAINTENANCE })];
    const t = table({ nodes, down: nodes.map((n) => n.id) });
    const { result, reason } = ask(t, GD_CT, { answers: 2 });
    expect(result.status).toBe(DecisionStatus.OK);
    expect(result.reason).toBe(ReasonCode.ALL_DOWN);
    expect(result.degraded).toBe(true);
    expect(result.count).toBe(2);
    expect(result.ttlS).toBe(5);
    expect(reason).toBe('all down: no healthy node in pool edge; best effort over 10 nodes by capacity');
    const seen = answered(t, GD_CT, 2000);
    expect(seen.has('drained')).toBe(true);
    expect(seen.has('maint')).toBe(false);
    expect(seen.size).toBe(10);
    const consistent = table({ nodes, down: nodes.map((n) => n.id), domains: [makeDomain('a.example', { strategy: Strategy.CONSISTENT })] });
    expect(answered(consistent, GD_CT, 2000).size).toBe(10);
  });

  it('policy ERROR: unavailable, no answers', () => {
    const t = table({ domains: [makeDomain('a.example', { allDown: AllDownPolicy.ERROR })], down: FLEET.map((n) => n.id) });
    const { result, reason } = ask(t, GD_CT);
    expect(result.status).toBe(DecisionStatus.UNAVAILABLE);
    expect(result.reason).toBe(ReasonCode.UNAVAILABLE);
    expect(result.count).toBe(0);
    expect(reason).toBe(
      'unavailable: no healthy node for this client in isp+region, region, isp+country, country, any (all-down policy: error)',
    );
    const outside = ask(table({ domains: localOnly(AllDownPolicy.ERROR) }), { country: 'FR', region: '', isp: '' });
    expect(outside.result.status).toBe(DecisionStatus.UNAVAILABLE);
  });

  it('a pool without nodes is unavailable even under best effort', () => {
    const t = table({ domains: [makeDomain('a.example', { pool: 'empty' })] });
    const { result, reason } = ask(t, GD_CT);
    expect(result.status).toBe(DecisionStatus.UNAVAILABLE);
    expect(reason).toBe('unavailable: pool empty has no node');
  });
});

describe('decide: domains, answers and state', () => {
  it('unknown domain: not found', () => {
    const t = table();
    const { result, reason } = ask(t, GD_CT, { domain: 'nope.example' });
    expect(result.status).toBe(DecisionStatus.NOT_FOUND);
    expect(result.reason).toBe(ReasonCode.NOT_FOUND);
    expect(result.count).toBe(0);
    expect(reason).toBe('not found: no policy for domain "nope.example"');
    expect(ask(t, GD_CT, { domainIndex: 5, domain: 'nope.example' }).result.status).toBe(DecisionStatus.NOT_FOUND);
  });

  it('finds the policy by index or by name in any case, with a trailing dot', () => {
    const t = table({ domains: [makeDomain('a.example'), makeDomain('b.example', { fallback: [Tier.COUNTRY] })] });
    expect(ask(t, GD_CT, { domainIndex: 1, domain: '' }).result.tier).toBe(Tier.COUNTRY);
    expect(ask(t, GD_CT, { domain: 'B.EXAMPLE.' }).result.tier).toBe(Tier.COUNTRY);
    expect(ask(t, GD_CT, { domain: 'B.EXAMPLE.' }).result.domain).toBe('b.example');
  });

  it('never answers a drained node, though it still counts in the tier capacity', () => {
    const nodes = [...FLEET, makeNode('gd-ct-drained', { state: NodeState.DRAIN })];
    const t = table({ nodes });
    expect(ask(t, GD_CT).reason).toBe('isp+region CN-GD|ct: 4 healthy of 5');
    expect(answered(t, GD_CT, 5000, { answers: 4 }).has('gd-ct-drained')).toBe(false);
    const consistent = table({ nodes, domains: [makeDomain('a.example', { strategy: Strategy.CONSISTENT })] });
    const seen = answered(consistent, GD_CT, 5000, { answers: 3 });
    expect(seen.has('gd-ct-drained')).toBe(false);
    expect(seen.size).toBe(4);
  });

  it('never answers a maintenance node', () => {
    const nodes = [...FLEET, makeNode('gd-ct-maint', { state: NodeState.MAINTENANCE })];
    const t = table({ nodes });
    expect(ask(t, GD_CT).reason).toBe('isp+region CN-GD|ct: 4 healthy of 4');
    expect(answered(t, GD_CT, 3000, { answers: 4 }).has('gd-ct-maint')).toBe(false);
  });

  it('returns N distinct answers, the policy count for 0, and never more than the healthy candidates', () => {
    const t = table({ domains: [makeDomain('a.example', { answers: 2 })], down: ['gd-ct-1'] });
    const query = Object.assign(createDecisionQuery(createRng(3)), { domain: 'a.example', location: GD_CT });
    const out = createDecisionResult();
    for (let i = 0; i < 2000; i++) {
      query.answers = [0, 1, 2, 3, 8][i % 5]!;
      decide(t, query, out);
      const ids = [...out.nodes.subarray(0, out.count)];
      expect(new Set(ids).size).toBe(out.count);
      expect(out.count).toBe([2, 1, 2, 3, 3][i % 5]);
      expect(ids.map((n) => t.nodes.ids[n])).not.toContain('gd-ct-1');
    }
  });

  it('caps answers at 16', () => {
    const nodes = Array.from({ length: 30 }, (_, i) => makeNode(`n${i}`));
    const t = table({ nodes, domains: [makeDomain('a.example', { answers: 16 })] });
    expect(ask(t, GD_CT, { answers: 40 }).result.count).toBe(16);
    expect(ask(t, GD_CT, { answers: 0 }).result.count).toBe(16);
  });

  it('cold start: answers by capacity before any weight arrives', () => {
    const nodes = [makeNode('small'), makeNode('big', { capacityRps: 300 })];
    const t = buildRoutingTable({ nodes, domains: [makeDomain('a.example')], configVersion: 1n, weightsVersion: 0n });
    const query = Object.assign(createDecisionQuery(createRng(11)), { domain: 'a.example', location: GD_CT });
    const out = createDecisionResult();
    let big = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) if (t.nodes.ids[decide(t, query, out).nodes[0]!] === 'big') big++;
    expect(out.reason).toBe(ReasonCode.TIER);
    expect(big / n).toBeGreaterThan(0.73);
    expect(big / n).toBeLessThan(0.77);
  });

  it('a decision uses the table it is given: swapping in a rebuild changes answers, the old table does not', () => {
    const before = table();
    const after = table({ down: ['gd-ct-1', 'gd-ct-2'] });
    expect(answered(before, GD_CT, 2000).has('gd-ct-1')).toBe(true);
    expect(answered(after, GD_CT, 2000).has('gd-ct-1')).toBe(false);
    expect(answered(before, GD_CT, 2000).has('gd-ct-1')).toBe(true);
  });

  it('reuses the result object without leaking the previous decision', () => {
    const t = table();
    const out = createDecisionResult();
    const query = Object.assign(createDecisionQuery(createRng(5)), { domain: 'a.example', location: GD_CT, answers: 3 });
    expect(decide(t, query, out)).toBe(out);
    expect(out.count).toBe(3);
    query.domain = 'missing.example';
    decide(t, query, out);
    expect(out.count).toBe(0);
    expect(out.group).toBeNull();
    expect(out.tier).toBe(Tier.UNSPECIFIED);
    expect(out.ttlS).toBe(0);
  });
});
