import { Health, Strategy, Tier, type NodeWeight } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { pickWeightsByNode } from './candidate-group.js';
import { buildRoutingTable, type RoutingTable } from './candidate-tables.js';
import { createLookupRefresher, LOOKUP_STALE_DISTANCE, lookupTableBytes, type LookupRefresher } from './consistent-lookups.js';
import { makeDomain, makeNode, makeWeight } from './fixtures.js';
import { pickConsistent } from './pick.js';
import { applyWeightUpdate } from './weight-update.js';

const nodes = Array.from({ length: 40 }, (_, i) => makeNode(`n${i}`, { region: i % 2 ? 'CN-GD' : 'CN-BJ' }));
const domains = [makeDomain('c.example', { strategy: Strategy.CONSISTENT, answers: 2, fallback: [Tier.REGION, Tier.ANY] })];
const weightsOf = (f: (i: number) => number): NodeWeight[] => nodes.map((n, i) => makeWeight(n.id, { weight: f(i), health: Health.UP }));

function table(weights: NodeWeight[], previous?: RoutingTable): RoutingTable {
  return buildRoutingTable({ nodes, weights, domains, configVersion: 1n, weightsVersion: 1n, lookups: 'later', previous });
}

function drain(r: LookupRefresher): void {
  while (!r.run(1000)) {
    // until every queued table is built
  }
}

/** Answers for 2,000 keys from the `any` group. */
function answers(t: RoutingTable): string[] {
  const out = new Int32Array(2);
  const g = t.pools.get('edge')!.all;
  return Array.from({ length: 2000 }, (_, k) => {
    const n = pickConsistent(g, Math.imul(k + 1, 0x9e3779b1), 2, out, t.nodes.weights);
    return [...out.subarray(0, n)].map((i) => t.nodes.ids[i]).join(',');
  });
}

describe('lookup refresher', () => {
  it('builds every weight group a consistent domain uses without waiting for a pick; a best-effort group only once a pick asked', () => {
    const t = table(weightsOf(() => 100));
    const r = createLookupRefresher();
    r.offer(t.consistentGroups);
    drain(r);
    const pool = t.pools.get('edge')!;
    for (const g of [pool.all, ...pool.tiers[Tier.REGION]!.values()]) expect(g.lookup.table).not.toBeNull();
    expect(pool.bestEffort.lookup.table).toBeNull();
    pickConsistent(pool.bestEffort, 12345, 1, new Int32Array(1), pickWeightsByNode(t.nodes, pool.bestEffort));
    r.offer(t.consistentGroups);
    drain(r);
    expect(pool.bestEffort.lookup.table).not.toBeNull();
  });

  it('builds a weight group whose table exceeds eagerMaxBytes only once a pick asked, and keeps that wish through a rebuild', () => {
    const t = table(weightsOf(() => 100));
    const pool = t.pools.get('edge')!;
    // 20-member region groups: 4,096 two-byte slots; the 40-member `any` group: 6,400.
    expect(lookupTableBytes(pool.all)).toBe(12_800);
    const r = createLookupRefresher({ eagerMaxBytes: 10_000 });
    r.offer(t.consistentGroups);
    drain(r);
    for (const g of pool.tiers[Tier.REGION]!.values()) expect(g.lookup.table).not.toBeNull();
    expect(pool.all.lookup.table).toBeNull();
    const out = new Int32Array(2);
    const scored = pickConsistent(pool.all, 777, 2, out, t.nodes.weights);
    expect(scored).toBe(2);
    expect(pool.all.lookup.wanted).toBe(true);
    // A full rebuild before the refresher ran keeps the cell, so the wish is not lost.
    const rebuilt = table(weightsOf(() => 100), t);
    expect(rebuilt.pools.get('edge')!.all.lookup).toBe(pool.all.lookup);
    r.offer(rebuilt.consistentGroups);
    drain(r);
    expect(pool.all.lookup.table).not.toBeNull();
    expect(pool.all.lookup.table).toBeInstanceOf(Uint16Array);
  });

  it('keeps a table through a small weight change, then rebuilds it from the new weights once they have settled', () => {
    let clock = 0;
    const r = createLookupRefresher({ now: () => clock, settleMs: 1000 });
    let t = table(weightsOf(() => 100));
    r.offer(t.consistentGroups);
    drain(r);
    const first = t.pools.get('edge')!.all.lookup.table;
    // Two nodes 30 % heavier: a total variation distance well under the stale bound.
    t = applyWeightUpdate(t, { weights: [makeWeight('n3', { weight: 130 }), makeWeight('n4', { weight: 130 })], weightsVersion: 2n })!;
    const all = t.pools.get('edge')!.all;
    r.offer(t.consistentGroups);
    drain(r);
    expect(all.lookup.table).toBe(first);
    clock += 999;
    r.offer(t.consistentGroups);
    drain(r);
    expect(all.lookup.table).toBe(first);
    clock += 1;
    r.offer(t.consistentGroups);
    drain(r);
    expect(all.lookup.table).not.toBe(first);
    expect(all.lookup.weights).toBe(all.weights);
    expect(LOOKUP_STALE_DISTANCE).toBeGreaterThan(0.01);
  });

  it('two replicas that built their tables at different points of a weight ramp answer alike once the weights settle', () => {
    const ramp = [0.2, 0.4, 0.7, 1].map((f) => weightsOf((i) => (i < 20 ? 100 : 100 * f)));
    const replica = (steps: NodeWeight[][]) => {
      let clock = 0;
      const r = createLookupRefresher({ now: () => clock, settleMs: 1000 });
      let t: RoutingTable | undefined;
      for (const w of steps) {
        t = t === undefined ? table(w) : (applyWeightUpdate(t, { weights: w, weightsVersion: 2n }) ?? table(w, t));
        r.offer(t.consistentGroups);
        drain(r);
        clock += 100;
      }
      return { t: t!, settle: () => ((clock += 1000), r.offer(t!.consistentGroups), drain(r)) };
    };
    // One replica saw every step of the ramp, the other only its start and its end.
    const a = replica(ramp);
    const b = replica([ramp[0]!, ramp[3]!]);
    a.settle();
    b.settle();
    // Again: the first offer after the quiet time notes the weights, the next one rebuilds.
    a.settle();
    b.settle();
    expect(answers(a.t)).toEqual(answers(b.t));
    // ... and the same as a replica started with the final weights.
    const fresh = table(ramp[3]!);
    const r = createLookupRefresher();
    r.offer(fresh.consistentGroups);
    drain(r);
    expect(answers(a.t)).toEqual(answers(fresh));
  });
});
