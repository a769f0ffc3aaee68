import { Health, Strategy, type Node } from '@cdn-sched/proto';
import { hashU32, topK } from '@cdn-sched/rendezvous';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, type RoutingTable } from './candidate-tables.js';
import { decide } from './decide.js';
import { createDecisionQuery, createDecisionResult } from './decision-result.js';
import { makeDomain, makeNode, makeWeight } from './fixtures.js';
import { scoreConsistent, pickWeighted, searchCumulative } from './pick.js';
import { createRng, nextUniform } from './random.js';

const GD_CT = { country: 'CN', region: 'CN-GD', isp: 'ct' };

function weightedTable(weights: number[]): RoutingTable {
  const nodes = weights.map((_, i) => makeNode(`n${i}`));
  return buildRoutingTable({
    nodes,
    domains: [makeDomain('a.example')],
    weights: nodes.map((n, i) => makeWeight(n.id, { weight: weights[i]! })),
    configVersion: 1n,
    weightsVersion: 1n,
  });
}

function consistentTable(nodes: Node[], down: string[] = []): RoutingTable {
  return buildRoutingTable({
    nodes,
    domains: [makeDomain('a.example', { strategy: Strategy.CONSISTENT, answers: 1 })],
    weights: nodes.map((n) => makeWeight(n.id, down.includes(n.id) ? { health: Health.DOWN } : {})),
    configVersion: 1n,
    weightsVersion: 1n,
  });
}

function chiSquare(observed: number[], expected: number[]): number {
  return observed.reduce((acc, o, i) => acc + (o - expected[i]!) ** 2 / expected[i]!, 0);
}

/** Node id answered first for each of `keys` client keys. */
function owners(t: RoutingTable, keys: number): string[] {
  const query = Object.assign(createDecisionQuery(createRng(1)), { domain: 'a.example', location: GD_CT });
  const out = createDecisionResult();
  return Array.from({ length: keys }, (_, i) => {
    query.clientKeyHash = hashU32(i << 8);
    return t.nodes.ids[decide(t, query, out).nodes[0]!]!;
  });
}

describe('weighted strategy', () => {
  it('picks the first answer in proportion to weight (chi-square, 100k decisions)', () => {
    const weights = [10, 20, 30, 40];
    const t = weightedTable(weights);
    const query = Object.assign(createDecisionQuery(createRng(2024)), { domain: 'a.example', location: GD_CT });
    const out = createDecisionResult();
    const counts = [0, 0, 0, 0];
    const n = 100_000;
    for (let i = 0; i < n; i++) counts[decide(t, query, out).nodes[0]!]!++;
    // 3 degrees of freedom, p = 0.001: 16.27.
    expect(chiSquare(counts, weights.map((w) => (n * w) / 100))).toBeLessThan(16.27);
  });

  it('draws the second answer without replacement, in proportion to the remaining weight', () => {
    const weights = [10, 20, 30, 40];
    const t = weightedTable(weights);
    const query = Object.assign(createDecisionQuery(createRng(99)), { domain: 'a.example', location: GD_CT, answers: 2 });
    const out = createDecisionResult();
    const n = 100_000;
    const observed = new Array<number>(16).fill(0);
    let short = 0;
    for (let i = 0; i < n; i++) {
      if (decide(t, query, out).count !== 2) short++;
      observed[out.nodes[0]! * 4 + out.nodes[1]!]!++;
    }
    expect(short).toBe(0);
    const cells: number[] = [];
    const expected: number[] = [];
    for (let a = 0; a < 4; a++) {
      for (let b = 0; b < 4; b++) {
        if (a === b) {
          expect(observed[a * 4 + b]).toBe(0);
          continue;
        }
        cells.push(observed[a * 4 + b]!);
        expected.push((n * weights[a]! * weights[b]!) / (100 * (100 - weights[a]!)));
      }
    }
    // 12 ordered pairs, 11 degrees of freedom, p = 0.001: 31.26.
    expect(chiSquare(cells, expected)).toBeLessThan(31.26);
  });

  it('never picks a zero weight, stays distinct and within bounds at the edges of [0, 1)', () => {
    const t = weightedTable([0, 5, 0, 1e-9, 7, 0]);
    const group = t.pools.get('edge')!.all;
    const out = new Int32Array(16);
    // First draws of 1/2^32 (lowest), 0.5 and (2^32 - 1)/2^32 (highest) the generator can give.
    for (const first of [1, 0x80000000, 0xffffffff]) {
      const rng = createRng(stateBefore(first));
      const n = pickWeighted(group, 16, rng, out);
      expect(n).toBe(3);
      expect([...out.subarray(0, n)].sort()).toEqual([1, 3, 4]);
    }
    const rng = createRng(1);
    let bad = 0;
    for (let i = 0; i < 1000; i++) {
      const n = pickWeighted(group, 2, rng, out);
      if (n !== 2 || out[0] === out[1] || ![1, 3, 4].includes(out[0]!) || ![1, 3, 4].includes(out[1]!)) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('consistent strategy', () => {
  const nodes = Array.from({ length: 10 }, (_, i) => makeNode(`edge-${i}`));
  const keys = 20_000;

  it('without a lookup table, scores exactly what libs/rendezvous topK gives, for any group, key and k', () => {
    const rng = createRng(77);
    const mine = new Int32Array(16);
    const theirs = new Int32Array(16);
    let mismatches = 0;
    for (const size of [1, 3, 16, 200, 2000]) {
      const weights = Array.from({ length: size }, () => (nextUniform(rng) < 0.1 ? 0 : 1 + Math.floor(nextUniform(rng) * 300)));
      const ids = weights.map((_, i) => makeNode(`m${size}-${i}`));
      const t = buildRoutingTable({
        nodes: ids,
        domains: [makeDomain('a.example')],
        weights: ids.map((n, i) => makeWeight(n.id, { weight: weights[i]! })),
        configVersion: 1n,
        weightsVersion: 1n,
      });
      const group = t.pools.get('edge')!.all;
      for (let q = 0; q < 400; q++) {
        const key = hashU32(q << 8);
        const k = 1 + (q % 16);
        const n = scoreConsistent(group, key, k, mine);
        const m = topK(key, group.hashes, group.weights, k, theirs);
        const expected = [...theirs.subarray(0, m)].map((p) => group.nodes[p]);
        if (n !== m || [...mine.subarray(0, n)].some((v, i) => v !== expected[i])) mismatches++;
      }
    }
    expect(mismatches).toBe(0);
  });

  it('sends the same subnet to the same edge, whatever the document order', () => {
    const a = owners(consistentTable(nodes), keys);
    expect(owners(consistentTable(nodes), keys)).toEqual(a);
    expect(owners(consistentTable([...nodes].reverse()), keys)).toEqual(a);
    const perNode = new Map<string, number>();
    for (const id of a) perNode.set(id, (perNode.get(id) ?? 0) + 1);
    expect(perNode.size).toBe(10);
    for (const c of perNode.values()) expect(Math.abs(c - keys / 10)).toBeLessThan(keys / 10 / 5);
  });

  it('removing one of N edges moves about 1/N of the subnets: those that were on it, and a handful more', () => {
    const before = owners(consistentTable(nodes), keys);
    const after = owners(consistentTable(nodes.filter((n) => n.id !== 'edge-3')), keys);
    let moved = 0;
    let movedOffOthers = 0;
    let stayedOnRemoved = 0;
    for (let i = 0; i < keys; i++) {
      if (after[i] !== before[i]) {
        moved++;
        if (before[i] !== 'edge-3') movedOffOthers++;
      } else if (before[i] === 'edge-3') {
        stayedOnRemoved++;
      }
    }
    // The lookup table's unreached slots follow a neighbour (libs/rendezvous rendezvous-table.ts).
    expect(movedOffOthers / keys).toBeLessThan(0.005);
    expect(stayedOnRemoved).toBe(0);
    expect(moved / keys).toBeGreaterThan(0.08);
    expect(moved / keys).toBeLessThan(0.12);
  });

  it('an edge going DOWN moves its own subnets (and a handful more), and they come back when it recovers', () => {
    const before = owners(consistentTable(nodes), keys);
    const during = owners(consistentTable(nodes, ['edge-7']), keys);
    const movedOffOthers = during.filter((id, i) => id !== before[i] && before[i] !== 'edge-7').length;
    expect(movedOffOthers / keys).toBeLessThan(0.005);
    expect(during).not.toContain('edge-7');
    expect(owners(consistentTable(nodes), keys)).toEqual(before);
  });
});

describe('consistent strategy with a lookup table built before a change', () => {
  const nodes = Array.from({ length: 30 }, (_, i) => makeNode(`edge-${i}`));
  const keys = 20_000;

  it('never answers a node that went DOWN since, and moves only its subnets', () => {
    const fresh = consistentTable(nodes);
    expect(fresh.pools.get('edge')!.all.lookup.table).not.toBeNull();
    const before = owners(fresh, keys);
    // Same members, new weights, tables left to the background refresher: the old ones are reused.
    const stale = buildRoutingTable({
      nodes,
      domains: [makeDomain('a.example', { strategy: Strategy.CONSISTENT, answers: 1 })],
      weights: nodes.map((n) => makeWeight(n.id, n.id === 'edge-4' ? { health: Health.DOWN } : {})),
      configVersion: 1n,
      weightsVersion: 2n,
      lookups: 'later',
      previous: fresh,
    });
    const group = stale.pools.get('edge')!.all;
    expect(group.lookup).toBe(fresh.pools.get('edge')!.all.lookup);
    const after = owners(stale, keys);
    expect(after).not.toContain('edge-4');
    for (let i = 0; i < keys; i++) if (before[i] !== 'edge-4') expect(after[i]).toBe(before[i]);
  });

  it('gives k distinct answers of positive weight, best first, from neighbouring slots', () => {
    const t = buildRoutingTable({
      nodes,
      domains: [makeDomain('a.example', { strategy: Strategy.CONSISTENT, answers: 16 })],
      weights: nodes.map((n, i) => makeWeight(n.id, i % 3 === 0 ? { health: Health.DOWN } : {})),
      configVersion: 1n,
      weightsVersion: 1n,
    });
    const query = Object.assign(createDecisionQuery(createRng(1)), { domain: 'a.example', location: GD_CT });
    const out = createDecisionResult();
    for (let i = 0; i < 2000; i++) {
      query.clientKeyHash = hashU32(i << 8);
      const r = decide(t, query, out);
      expect(r.count).toBe(16);
      const ids = [...r.nodes.subarray(0, r.count)].map((n) => t.nodes.ids[n]!);
      expect(new Set(ids).size).toBe(16);
      for (const id of ids) expect(Number(id.slice(5)) % 3).not.toBe(0);
      if (i === 0) expect(ids[0]).toBe(owners(t, 1)[0]);
    }
  });
});

describe('xorshift32 rng', () => {
  it('is deterministic per seed, uniform enough, within [0, 1), and not stuck at seed 0', () => {
    const a = createRng(123);
    const b = createRng(123);
    const zero = createRng(0);
    let sum = 0;
    let bad = 0;
    for (let i = 0; i < 10_000; i++) {
      const x = nextUniform(a);
      if (x !== nextUniform(b) || !(x >= 0 && x < 1)) bad++;
      sum += x;
    }
    expect(bad).toBe(0);
    expect(sum / 10_000).toBeGreaterThan(0.49);
    expect(sum / 10_000).toBeLessThan(0.51);
    expect(new Set([nextUniform(zero), nextUniform(zero), nextUniform(zero)]).size).toBe(3);
  });

  it('stateBefore inverts one step (the helper the edge tests rely on)', () => {
    for (const v of [1, 0x80000000, 0xffffffff, 0x12345678]) {
      expect(Math.round(nextUniform(createRng(stateBefore(v))) * 4294967296)).toBe(v);
    }
  });
});

/** The xorshift32 state whose next output is `output` (each of the three steps is invertible). */
function stateBefore(output: number): number {
  const unLeft = (y: number, s: number) => {
    let x = y;
    for (let i = 0; i < 32; i += s) x = y ^ (x << s);
    return x | 0;
  };
  const unRight = (y: number, s: number) => {
    let x = y;
    for (let i = 0; i < 32; i += s) x = y ^ (x >>> s);
    return x | 0;
  };
  return unLeft(unRight(unLeft(output | 0, 5), 17), 13);
}

describe('searchCumulative', () => {
  /** The bisection over the whole array that it replaces. */
  const reference = (cumulative: Float64Array, size: number, r: number): number => {
    let lo = 0;
    let hi = size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! > r) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };

  it('returns what a bisection returns, for even, skewed, zero and empty weights and any r', () => {
    const rng = createRng(2024);
    const shapes: ((i: number, size: number) => number)[] = [
      () => 50 + nextUniform(rng) * 100, // one order of magnitude, as tiers are
      () => (nextUniform(rng) < 0.3 ? 0 : 1), // drained and DOWN members
      (i) => (i === 0 ? 1e6 : 1), // one member with nearly all the weight, first
      (i, size) => (i === size - 1 ? 1e6 : 1), // … or last
      () => Math.exp(nextUniform(rng) * 20), // spread over nine orders of magnitude
      () => 0, // nothing pickable
    ];
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const size = round < 6 ? round : 1 + Math.floor(nextUniform(rng) * 2000);
      const shape = shapes[round % shapes.length]!;
      const cumulative = new Float64Array(size);
      let total = 0;
      for (let i = 0; i < size; i++) cumulative[i] = total += shape(i, size);
      const rs = [0, total, total * 2, -1, ...Array.from({ length: 40 }, () => nextUniform(rng) * total)];
      // Exactly on a running sum (r equal to cumulative[i] belongs to the next member).
      for (let j = 0; j < 10 && size > 0; j++) rs.push(cumulative[Math.floor(nextUniform(rng) * size)]!);
      for (const r of rs) {
        const got = searchCumulative(cumulative, size, total, r);
        if (got !== reference(cumulative, size, r)) expect.fail(`size ${size}, shape ${round % shapes.length}, r ${r}: ${got} vs ${reference(cumulative, size, r)}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15_000);
  });
});

