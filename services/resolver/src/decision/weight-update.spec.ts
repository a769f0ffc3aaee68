import { Health, NodeState, Strategy, Tier, type NodeWeight, type TierCapacity } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { pickWeightsByNode, type CandidateGroup } from './candidate-group.js';
import { buildRoutingTable, type RoutingTable } from './candidate-tables.js';
import { decide } from './decide.js';
import { createDecisionQuery, createDecisionResult } from './decision-result.js';
import { makeCapacity, makeDomain, makeNode, makeWeight } from './fixtures.js';
import { createRng, nextU32, nextUniform } from './random.js';
import { applyWeightUpdate, weightUpdateSteps } from './weight-update.js';

const REGIONS = ['CN-GD', 'CN-BJ', 'CN-SH', 'CN-SC'];
const ISPS = ['ct', 'cu', 'cm', ''];

function fleet(rng: Int32Array, count: number, fractionalCapacities = false) {
  const nodes = Array.from({ length: count }, (_, i) =>
    makeNode(`n${i}`, {
      region: REGIONS[i % REGIONS.length]!,
      isp: ISPS[Math.floor(i / REGIONS.length) % ISPS.length]!,
      capacityRps: 100 + (nextU32(rng) % 900) + (fractionalCapacities && i % 5 === 0 ? 0.1 : 0),
      state: nextUniform(rng) < 0.05 ? NodeState.DRAIN : NodeState.ACTIVE,
      pools: ['edge', ...(i % 3 === 0 ? ['video'] : [])],
    }),
  );
  const domains = [
    makeDomain('w.example'),
    makeDomain('c.example', { strategy: Strategy.CONSISTENT, answers: 2 }),
    makeDomain('v.example', { pool: 'video', strategy: Strategy.CONSISTENT, fallback: [Tier.REGION, Tier.ANY] }),
  ];
  return { nodes, domains };
}

function randomWeight(rng: Int32Array, id: string): NodeWeight {
  const r = nextUniform(rng);
  if (r < 0.15) return makeWeight(id, { weight: 0, health: Health.DOWN });
  if (r < 0.2) return makeWeight(id, { weight: 20, health: Health.UNKNOWN });
  return makeWeight(id, { weight: 1 + (nextU32(rng) % 200), health: Health.UP });
}

/** Everything a decision reads from a group, lookup tables aside (they are rebuilt in the background). */
function groupView(g: CandidateGroup) {
  return {
    tier: g.tier,
    key: g.key,
    weighting: g.weighting,
    nodes: [...g.nodes],
    weights: [...g.weights],
    cumulative: [...g.cumulative],
    totalWeight: g.totalWeight,
    maxWeight: g.maxWeight,
    pickableCount: g.pickableCount,
    healthyCount: g.healthyCount,
    healthyCapacityRps: g.healthyCapacityRps,
    totalCapacityRps: g.totalCapacityRps,
    nodesHealthyCapacityRps: g.nodesHealthyCapacityRps,
    nodesTotalCapacityRps: g.nodesTotalCapacityRps,
    exactCapacitySums: g.exactCapacitySums,
    healthyShare: g.healthyShare,
    shareFromWeightCalculator: g.shareFromWeightCalculator,
    summary: g.summary,
  };
}

function tableView(t: RoutingTable) {
  return {
    weights: [...t.nodes.weights],
    health: [...t.nodes.health],
    weightsVersion: t.weightsVersion,
    pools: [...t.pools].map(([name, p]) => ({
      name,
      tiers: p.tiers.map((m) => [...m].map(([id, g]) => [id, groupView(g)])),
      all: groupView(p.all),
      bestEffort: groupView(p.bestEffort),
    })),
    domains: t.domains.map((d) => ({ domain: d.domain, pool: d.pool.name, all: groupView(d.pool.all) })),
    consistent: t.consistentGroups.map(groupView),
  };
}

/**
 * Every group's weights are those of its nodes in the table's node arrays (what pickConsistent
 * checks an answer's live weight against), in a table updated in place as in a full build.
 */
function expectWeightsByNode(t: RoutingTable): void {
  const groups = [...t.pools.values()].flatMap((p) => [...p.tiers.flatMap((m) => [...m.values()]), p.all, p.bestEffort]);
  expect(groups.length).toBeGreaterThan(10);
  for (const g of groups) {
    const byNode = pickWeightsByNode(t.nodes, g);
    expect([...g.nodes].map((n) => byNode[n])).toEqual([...g.weights]);
  }
}

describe('applyWeightUpdate', () => {
  it('equals a full rebuild from the same weights, over 20 random update rounds (property)', () => {
    // Seeds 1 and 2: whole-number capacities (sums adjusted per change); 3 and 4: some with a
    // fraction (sums recomputed in position order).
    for (const seed of [1, 2, 3, 4]) {
      const rng = createRng(seed);
      const { nodes, domains } = fleet(rng, 120, seed > 2);
      const weights = new Map(nodes.map((n) => [n.id, randomWeight(rng, n.id)]));
      let capacities: TierCapacity[] = [makeCapacity('edge', Tier.REGION, 'CN-GD', 500, 1000)];
      let incremental = buildRoutingTable({ nodes, domains, weights: weights.values(), capacities, configVersion: 1n, weightsVersion: 1n });
      for (let round = 2; round <= 21; round++) {
        const changes: NodeWeight[] = [];
        const howMany = 1 + (nextU32(rng) % 30);
        for (let c = 0; c < howMany; c++) {
          const id = nodes[nextU32(rng) % nodes.length]!.id;
          const w = randomWeight(rng, id);
          weights.set(id, w);
          changes.push(w);
        }
        const capacityChange = nextUniform(rng) < 0.3;
        if (capacityChange) {
          capacities = [makeCapacity('edge', Tier.REGION, REGIONS[round % 4]!, nextU32(rng) % 1000, 1000), makeCapacity('video', Tier.ANY, '*', 10, 20)];
        }
        const next = applyWeightUpdate(incremental, { weights: changes, capacities: capacityChange ? capacities : undefined, weightsVersion: BigInt(round) });
        expect(next).toBeDefined();
        const full = buildRoutingTable({ nodes, domains, weights: weights.values(), capacities, configVersion: 1n, weightsVersion: BigInt(round), lookups: 'later' });
        expect(tableView(next!)).toEqual(tableView(full));
        expectWeightsByNode(next!);
        // And the weighted decisions, which read only those fields, are the same draw for draw.
        const q1 = Object.assign(createDecisionQuery(createRng(9)), { domain: 'w.example', location: { country: 'CN', region: 'CN-GD', isp: 'ct' } });
        const q2 = Object.assign(createDecisionQuery(createRng(9)), { domain: 'w.example', location: { country: 'CN', region: 'CN-GD', isp: 'ct' } });
        const r1 = createDecisionResult();
        const r2 = createDecisionResult();
        for (let i = 0; i < 50; i++) {
          decide(next!, q1, r1);
          decide(full, q2, r2);
          expect([r1.status, r1.reason, r1.ttlS, ...r1.nodes.subarray(0, r1.count)]).toEqual([r2.status, r2.reason, r2.ttlS, ...r2.nodes.subarray(0, r2.count)]);
        }
        incremental = next!;
      }
    }
  });

  it('copies only the groups that hold a changed node; the old table is untouched', () => {
    const rng = createRng(5);
    const { nodes, domains } = fleet(rng, 120);
    const weights = nodes.map((n) => makeWeight(n.id));
    const before = buildRoutingTable({ nodes, domains, weights, configVersion: 1n, weightsVersion: 1n });
    const snapshot = tableView(before);
    const changedId = 'n1'; // CN-BJ, ct, edge only
    const after = applyWeightUpdate(before, { weights: [makeWeight(changedId, { health: Health.DOWN, weight: 0 })], weightsVersion: 2n })!;
    expect(tableView(before)).toEqual(snapshot);
    const edgeBefore = before.pools.get('edge')!;
    const edgeAfter = after.pools.get('edge')!;
    let shared = 0;
    let copied = 0;
    for (let t = 0; t < edgeBefore.tiers.length; t++) {
      for (const [id, g] of edgeBefore.tiers[t]!) {
        const h = edgeAfter.tiers[t]!.get(id)!;
        const holds = [...g.nodes].some((n) => before.nodes.ids[n] === changedId);
        if (holds) {
          copied++;
          expect(h).not.toBe(g);
          expect(h.lookup).toBe(g.lookup); // same members: the lookup table carries over
        } else {
          shared++;
          expect(h).toBe(g);
        }
      }
    }
    expect(copied).toBe(5); // isp+region, region, isp+country, country, any
    expect(shared).toBeGreaterThan(10);
    expect(after.pools.get('video')).toBe(before.pools.get('video'));
    expect(after.domains.find((d) => d.domain === 'v.example')).toBe(before.domains.find((d) => d.domain === 'v.example'));
  });

  it('in steps: yields between groups, leaves the old table whole until done, and ends equal to the update at once', () => {
    const rng = createRng(6);
    const { nodes, domains } = fleet(rng, 120);
    const before = buildRoutingTable({ nodes, domains, weights: nodes.map((n) => makeWeight(n.id)), configVersion: 1n, weightsVersion: 1n });
    const snapshot = tableView(before);
    // Every node takes a step together, as a fleet ramping after a restart does.
    const changes = nodes.map((n, i) => makeWeight(n.id, { weight: 50 + (i % 17) }));
    const steps = weightUpdateSteps(before, { weights: changes, weightsVersion: 2n });
    let yields = 0;
    let r = steps.next();
    for (; !r.done; r = steps.next()) {
      yields++;
      expect(tableView(before)).toEqual(snapshot);
    }
    // At least one yield per copied group: every group of both pools holds a changed node.
    const groups = [...before.pools.values()].reduce((n, p) => n + p.tiers.reduce((m, t) => m + t.size, 0), 0);
    expect(yields).toBeGreaterThanOrEqual(groups);
    expect(tableView(r.value!)).toEqual(tableView(applyWeightUpdate(before, { weights: changes, weightsVersion: 2n })!));
    // A generator dropped half-way changes nothing.
    const dropped = weightUpdateSteps(before, { weights: changes, weightsVersion: 3n });
    for (let i = 0; i < 5; i++) dropped.next();
    expect(tableView(before)).toEqual(snapshot);
  });

  it('takes the last of several weights of one node, one back at the value the table holds included', () => {
    // The resolver hands over every weight received since the last table, in arrival order.
    const nodes = [makeNode('a'), makeNode('b'), makeNode('c')];
    const domains = [makeDomain('w.example')];
    const t = buildRoutingTable({ nodes, domains, weights: nodes.map((n) => makeWeight(n.id, { weight: 10 })), configVersion: 1n, weightsVersion: 1n });
    const changes = [
      makeWeight('a', { weight: 30 }),
      makeWeight('b', { weight: 25 }),
      makeWeight('a', { weight: 40 }),
      makeWeight('b', { weight: 10 }),
      makeWeight('c', { weight: 10 }),
      makeWeight('c', { weight: 0, health: Health.DOWN }),
    ];
    const updated = applyWeightUpdate(t, { weights: changes, weightsVersion: 2n })!;
    const last = [makeWeight('a', { weight: 40 }), makeWeight('b', { weight: 10 }), makeWeight('c', { weight: 0, health: Health.DOWN })];
    const full = buildRoutingTable({ nodes, domains, weights: last, configVersion: 1n, weightsVersion: 2n, lookups: 'later' });
    expect(tableView(updated)).toEqual(tableView(full));
    expect([...updated.nodes.weights]).toEqual([40, 10, 0]);
  });

  it('asks for a full rebuild while a node is in cold start', () => {
    const nodes = [makeNode('a'), makeNode('b')];
    const t = buildRoutingTable({ nodes, domains: [makeDomain('w.example')], weights: [makeWeight('a')], configVersion: 1n, weightsVersion: 1n });
    expect(applyWeightUpdate(t, { weights: [makeWeight('a', { weight: 5 })], weightsVersion: 2n })).toBeUndefined();
  });
});
