import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Health, NodeSchema, NodeState, ProbeErrorClass, ProbeResultSchema, Tier } from '@cdn-sched/proto';
import type { Node, NodeWeight } from '@cdn-sched/proto';
import { createWeightTable } from './weight-table.js';
import type { WeightTable, WeightTableOptions, WeightTick } from './weight-table.js';

const T0 = 1_700_000_000_000;
const INTERVAL = 5_000;

type NodeInit = Omit<MessageInitShape<typeof NodeSchema>, '$typeName'>;
type ResultInit = Omit<MessageInitShape<typeof ProbeResultSchema>, '$typeName' | 'startedAtMs'>;

function node(id: string, init: NodeInit = {}): Node {
  return create(NodeSchema, {
    id,
    address: '192.0.2.10',
    port: 443,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacityRps: 1000,
    state: NodeState.ACTIVE,
    pools: ['video'],
    ...init,
  });
}

/** A table plus a simulated clock; probes start 100 ms before they are ingested. */
class Harness {
  readonly table: WeightTable;
  now = T0;

  constructor(nodes: Node[], options: WeightTableOptions = {}) {
    this.table = createWeightTable(options);
    expect(this.table.setNodes(nodes)).toEqual([]);
  }

  probe(proberId: string, nodeId: string, ok: boolean, init: ResultInit = {}) {
    const result = create(ProbeResultSchema, {
      nodeId,
      ok,
      errorClass: ok ? ProbeErrorClass.UNSPECIFIED : ProbeErrorClass.TIMEOUT,
      connectMs: 2,
      ttfbMs: 30,
      totalMs: ok ? 40 : 2_000,
      statusCode: ok ? 200 : 0,
      load: -1,
      ...init,
      startedAtMs: BigInt(this.now - 100),
    });
    return this.table.ingest(proberId, result, this.now);
  }

  tick(): WeightTick {
    return this.table.tick(this.now);
  }

  weight(nodeId: string): NodeWeight | undefined {
    return this.table.snapshot().weights.find((w) => w.nodeId === nodeId);
  }

  /**
   * Advances the clock by `ms` in 1 s steps; every INTERVAL each prober probes each node with the
   * outcome `ok(prober, node)`; ticks every step. Returns the ticks.
   */
  run(ms: number, probers: string[], nodeIds: string[], ok: (prober: string, nodeId: string) => boolean = () => true, init: ResultInit = {}) {
    const ticks: WeightTick[] = [];
    for (let step = 0; step < ms / 1_000; step++) {
      this.now += 1_000;
      if ((this.now - T0) % INTERVAL === 0) {
        for (const p of probers) for (const n of nodeIds) expect(this.probe(p, n, ok(p, n), init).accepted).toBe(true);
      }
      ticks.push(this.tick());
    }
    return ticks;
  }
}

function changedIds(ticks: WeightTick[]): string[] {
  return ticks.flatMap((t) => t.changed.map((w) => w.nodeId));
}

describe('createWeightTable: cold start and slow start', () => {
  it('answers a brand-new node at a quarter of its capacity, health UNKNOWN', () => {
    const h = new Harness([node('n1')]);
    const tick = h.tick();
    expect(tick.changed).toHaveLength(1);
    const w = tick.changed[0];
    expect(w.nodeId).toBe('n1');
    expect(w.health).toBe(Health.UNKNOWN);
    expect(w.weight).toBe(250);
    expect(w.terms?.ramp).toBe(0.25);
    expect(w.terms?.targetWeight).toBe(250);
    expect(w.terms?.probersTotal).toBe(0);
    expect(w.terms?.rttEwmaMs).toBe(-1);
    expect(w.terms?.load).toBe(-1);
    expect(w.updatedAtMs).toBe(BigInt(T0));
  });

  it('turns UP on the first success and ramps from the cold-start share to full in slowStartMs', () => {
    const h = new Harness([node('n1')]);
    h.tick();
    h.now += 1_000;
    h.probe('p1', 'n1', true);
    const first = h.tick().changed[0];
    expect([first.health, first.weight, first.terms?.ramp]).toEqual([Health.UP, 250, 0.25]);
    h.run(30_000, ['p1'], ['n1']);
    expect(h.weight('n1')?.weight).toBeGreaterThan(600);
    expect(h.weight('n1')?.weight).toBeLessThan(650);
    h.run(31_000, ['p1'], ['n1']);
    expect(h.weight('n1')?.weight).toBe(1000);
    expect(h.weight('n1')?.terms?.ramp).toBe(1);
  });

  it('publishes a ramp in steps of 5 % of the full weight, never further behind, and its end', () => {
    const h = new Harness([node('n1')]);
    h.tick();
    h.now += 1_000;
    h.probe('p1', 'n1', true);
    const published: number[] = [h.tick().changed[0]!.weight];
    // 100 ms ticks through the 60 s ramp (probes every 5 s keep it UP).
    for (let ms = 100; ms <= 61_000; ms += 100) {
      h.now += 100;
      if (ms % INTERVAL === 0) expect(h.probe('p1', 'n1', true).accepted).toBe(true);
      for (const w of h.tick().changed) published.push(w.weight);
      const share = Math.min(1, 0.25 + (0.75 * ms) / 60_000);
      // What consumers hold is never more than the step (50) behind the ramp.
      expect(1000 * share - published[published.length - 1]!).toBeLessThanOrEqual(50 + 1e-9);
    }
    // 250 → 1000 in steps just over 50: 14 of them plus the first and the end, not one per tick.
    expect(published.length).toBeGreaterThanOrEqual(15);
    expect(published.length).toBeLessThanOrEqual(17);
    expect(published[published.length - 1]).toBe(1000);
    for (let i = 1; i < published.length - 1; i++) expect(published[i]! - published[i - 1]!).toBeGreaterThan(50);
  });

  it('publishes nothing once a healthy node is steady', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.run(70_000, ['p1', 'p2'], ['n1', 'n2']);
    const ticks = h.run(60_000, ['p1', 'p2'], ['n1', 'n2']);
    expect(changedIds(ticks)).toEqual([]);
    expect(ticks.every((t) => !t.capacitiesChanged)).toBe(true);
    expect(ticks[0].capacities).toBe(ticks.at(-1)?.capacities);
  });
});

describe('createWeightTable: failure and recovery', () => {
  it('does not move traffic on isolated lost probes (one per loss window)', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    let count = 0;
    const ticks = h.run(300_000, ['p1'], ['n1'], () => ++count % 21 !== 0);
    expect(count).toBeGreaterThan(42);
    expect(changedIds(ticks)).toEqual([]);
    expect(h.weight('n1')?.weight).toBe(1000);
  });

  it('shaves a little weight for sustained loss that does not reach the fall threshold', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    let count = 0;
    h.run(300_000, ['p1'], ['n1'], () => ++count % 10 !== 0);
    const w = h.weight('n1');
    expect(w?.health).toBe(Health.UP);
    expect(w?.terms?.lossRate).toBe(0.1);
    expect(w?.weight).toBeCloseTo(1000 * lossFactorAfter(2), 6);
  });

  it('sets a dead node to weight 0 on the tick after its third failure (3 × interval), undamped', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.run(70_000, ['p1'], ['n1', 'n2']);
    expect(h.weight('n1')?.weight).toBe(1000);
    const lastOkAt = h.now - ((h.now - T0) % INTERVAL);
    const ticks = h.run(20_000, ['p1'], ['n1', 'n2'], (_p, n) => n !== 'n1');
    const downAt = ticks.findIndex((t) => t.changed.some((w) => w.nodeId === 'n1' && w.health === Health.DOWN));
    const published = ticks[downAt].changed.find((w) => w.nodeId === 'n1');
    expect([published?.weight, published?.health]).toEqual([0, Health.DOWN]);
    const downAtMs = Number(published?.updatedAtMs);
    expect(downAtMs - lastOkAt).toBe(3 * INTERVAL);
    // The first failure moves nothing; the second costs a few percent through the loss term (10 %
    // in the window), damped; the third takes the node to 0 from wherever it was, in one tick.
    const firstChange = ticks.findIndex((t) => t.changed.length > 0);
    expect(Number(ticks[firstChange].changed[0].updatedAtMs) - lastOkAt).toBe(2 * INTERVAL);
    expect(ticks[downAt - 1].changed.every((w) => w.weight > 900)).toBe(true);
    expect(ticks[downAt].capacitiesChanged).toBe(true);
    const any = ticks[downAt].capacities.find((c) => c.tier === Tier.ANY);
    expect([any?.healthyCapacityRps, any?.totalCapacityRps]).toEqual([1000, 2000]);
  });

  it('re-decides a node whose prober turned DOWN without waiting for the tick, and only that node', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.run(70_000, ['p1'], ['n1', 'n2']);
    expect(h.table.pendingTransitions).toBe(0);
    for (let i = 0; i < 2; i++) {
      h.now += INTERVAL;
      h.probe('p1', 'n1', false);
      // Failures inside the window that do not reach the fall threshold change no health.
      expect(h.table.pendingTransitions).toBe(0);
    }
    h.now += INTERVAL;
    h.probe('p1', 'n1', false);
    expect(h.table.pendingTransitions).toBe(1);
    const tick = h.table.tickTransitions(h.now);
    expect(tick.changed.map((w) => [w.nodeId, w.weight, w.health])).toEqual([['n1', 0, Health.DOWN]]);
    expect(Number(tick.changed[0]!.updatedAtMs)).toBe(h.now);
    expect(tick.capacitiesChanged).toBe(true);
    expect(h.table.pendingTransitions).toBe(0);
    // Published once: the next full tick has nothing new for n1.
    expect(h.tick().changed.filter((w) => w.nodeId === 'n1')).toEqual([]);
  });

  it('marks the first UP of a cold node and a recovery as transitions, and a full tick clears them', () => {
    const h = new Harness([node('n1')]);
    h.tick();
    h.probe('p1', 'n1', true);
    expect(h.table.pendingTransitions).toBe(1);
    h.tick();
    expect(h.table.pendingTransitions).toBe(0);
    expect(h.table.tickTransitions(h.now).changed).toEqual([]);
  });

  it('brings a node back after two successes and slow-starts it from 10 %', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    h.run(15_000, ['p1'], ['n1'], () => false);
    expect(h.weight('n1')?.health).toBe(Health.DOWN);
    const ticks = h.run(10_000, ['p1'], ['n1']);
    const up = ticks.flatMap((t) => t.changed).find((w) => w.health === Health.UP);
    expect(up?.weight).toBeCloseTo(100 * lossFactorAfter(3), 6);
    expect(up?.terms?.ramp).toBeCloseTo(0.1, 9);
    h.run(60_000, ['p1'], ['n1']);
    // Slow start is over; the three failures are still in the 20-probe loss window.
    expect(h.weight('n1')?.weight).toBeCloseTo(1000 * lossFactorAfter(3), 6);
    h.run(40_000, ['p1'], ['n1']);
    expect(h.weight('n1')?.weight).toBe(1000);
  });

  it('keeps a flapping edge DOWN instead of flipping it every interval', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    let n = 0;
    const ticks = h.run(300_000, ['p1'], ['n1'], () => n++ % 2 === 0);
    const published = ticks.flatMap((t) => t.changed);
    const firstDown = published.findIndex((w) => w.health === Health.DOWN);
    expect(firstDown).toBeGreaterThanOrEqual(0);
    expect(published.slice(firstDown).map((w) => [w.health, w.weight])).toEqual([[Health.DOWN, 0]]);
    expect(h.weight('n1')?.health).toBe(Health.DOWN);
  });
});

/** Loss factor with the default formula after `failures` in the 20-probe window. */
function lossFactorAfter(failures: number): number {
  const rate = failures / 20;
  if (rate <= 0.05) return 1;
  return (1 - (rate - 0.05) / 0.95) ** 2;
}

describe('createWeightTable: quorum across probers', () => {
  it('keeps a node UP at full weight when 1 of 3 probers sees it fail', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1', 'p2', 'p3'], ['n1']);
    const ticks = h.run(30_000, ['p1', 'p2', 'p3'], ['n1'], (p) => p !== 'p3');
    expect(changedIds(ticks)).toEqual([]);
    const w = h.weight('n1');
    expect([w?.health, w?.weight]).toEqual([Health.UP, 1000]);
    expect(h.tick().changed).toEqual([]);
  });

  it('takes a node DOWN when 2 of 3 probers see it fail', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1', 'p2', 'p3'], ['n1']);
    h.run(15_000, ['p1', 'p2', 'p3'], ['n1'], (p) => p === 'p1');
    const w = h.weight('n1');
    expect([w?.health, w?.weight, w?.terms?.probersUp, w?.terms?.probersTotal]).toEqual([Health.DOWN, 0, 1, 3]);
  });

  it('does not count a stale prober: its last UP stops outvoting once it is older than the TTL', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1', 'p2'], ['n1']);
    const ticks = h.run(30_000, ['p1'], ['n1'], () => false);
    const published = ticks.flatMap((t) => t.changed);
    expect(published.map((w) => w.health)).toEqual([Health.DOWN]);
    // p2 last reported at T0+70 s; it is stale from T0+85 s, the first tick after which p1's three
    // failures (at +75, +80, +85 s) decide alone.
    expect(Number(published[0].updatedAtMs) - T0).toBe(85_000);
    expect(published[0].terms?.probersTotal).toBe(1);
  });
});

describe('createWeightTable: holds when probers go silent', () => {
  it('holds the UP weight for unknownHoldMs, reporting UNKNOWN, then falls to the cold-start share', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    const ticks = h.run(80_000, [], ['n1']);
    const published = ticks.flatMap((t) => t.changed);
    expect(published[0].health).toBe(Health.UNKNOWN);
    expect(published[0].weight).toBe(1000);
    expect(Number(published[0].updatedAtMs) - T0).toBe(85_000);
    // The last tick with a quorum was at +84 s; the hold covers up to +114 s.
    const cold = published.filter((w) => w.weight < 1000);
    expect(Number(cold[0].updatedAtMs) - T0).toBe(84_000 + 30_000 + 1_000);
    expect(cold.at(-1)?.terms?.targetWeight).toBe(250);
    // Damped on the way down from 1000 (cold is not a decision to stop serving): 40 rps per second.
    expect(1000 - cold[0].weight).toBe(40);
    expect(h.weight('n1')?.weight).toBe(250);
  });
});

describe('createWeightTable: administrative states', () => {
  it('sets a drained node to 0 on the next tick, keeps it listed with its health, then slow-starts it', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    expect(h.table.upsertNode(node('n1', { state: NodeState.DRAIN }))).toEqual({ accepted: true });
    const drained = h.tick();
    expect(drained.changed.map((w) => [w.weight, w.health])).toEqual([[0, Health.UP]]);
    const any = drained.capacities.find((c) => c.tier === Tier.ANY);
    expect([any?.healthyCapacityRps, any?.totalCapacityRps]).toEqual([0, 1000]);
    h.run(10_000, ['p1'], ['n1']);
    expect(h.weight('n1')?.weight).toBe(0);
    h.table.upsertNode(node('n1'));
    const back = h.tick().changed[0];
    expect([back.weight, back.terms?.ramp]).toEqual([100, 0.1]);
  });

  it('removes a MAINTENANCE node from the published table and brings it back', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.run(70_000, ['p1'], ['n1', 'n2']);
    h.table.upsertNode(node('n1', { state: NodeState.MAINTENANCE }));
    const tick = h.tick();
    expect(tick.removedNodeIds).toEqual(['n1']);
    expect(tick.changed).toEqual([]);
    expect(h.table.snapshot().weights.map((w) => w.nodeId)).toEqual(['n2']);
    expect(tick.capacities.find((c) => c.tier === Tier.ANY)?.totalCapacityRps).toBe(1000);
    expect(h.tick().removedNodeIds).toEqual([]);
    h.table.upsertNode(node('n1'));
    const back = h.tick();
    expect(back.changed.map((w) => w.nodeId)).toEqual(['n1']);
    expect(back.removedNodeIds).toEqual([]);
  });

  it('removes a node and its probe state; later results for it are rejected', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.run(10_000, ['p1', 'p2'], ['n1', 'n2']);
    expect(h.table.pairCount).toBe(4);
    expect(h.table.removeNode('n1')).toBe(true);
    expect(h.table.removeNode('n1')).toBe(false);
    expect(h.table.pairCount).toBe(2);
    expect(h.tick().removedNodeIds).toEqual(['n1']);
    expect(h.probe('p1', 'n1', true)).toEqual({ accepted: false, code: 'UNKNOWN_NODE', error: 'node n1: unknown node' });
  });

  it('publishes a node removed and re-added before a tick as a new node, not as a removal', () => {
    const h = new Harness([node('n1')]);
    h.run(10_000, ['p1'], ['n1']);
    h.table.removeNode('n1');
    h.table.upsertNode(node('n1'));
    const tick = h.tick();
    expect(tick.removedNodeIds).toEqual([]);
    expect(tick.changed.map((w) => [w.nodeId, w.health, w.weight])).toEqual([['n1', Health.UNKNOWN, 250]]);
  });

  it('replaces the node set, keeping the last good version of a rejected document', () => {
    const h = new Harness([node('n1'), node('n2')]);
    h.tick();
    const rejected = h.table.setNodes([node('n1', { capacityRps: -3 }), node('n3')]);
    expect(rejected).toEqual([
      { accepted: false, code: 'INVALID_NODE', nodeId: 'n1', error: 'node n1: capacity_rps must be a finite number > 0, got -3' },
    ]);
    const tick = h.tick();
    expect(tick.removedNodeIds).toEqual(['n2']);
    expect(h.table.snapshot().weights.map((w) => [w.nodeId, w.terms?.capacityRps])).toEqual([
      ['n1', 1000],
      ['n3', 1000],
    ]);
  });
});

describe('createWeightTable: soft signals, damping, material changes', () => {
  it('lowers the weight of a node that turns slow by at most 20 % of capacity per 5 s', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1']);
    const ticks = h.run(120_000, ['p1'], ['n1'], () => true, { totalMs: 400 });
    const weights = [1000, ...ticks.flatMap((t) => t.changed).map((w) => w.weight)];
    for (let i = 1; i < weights.length; i++) expect(weights[i - 1] - weights[i]).toBeLessThanOrEqual(40 * 5 + 1e-9);
    const w = h.weight('n1');
    expect(Math.abs((w?.weight ?? 0) - 500)).toBeLessThan(500 * 0.01);
    expect(w?.terms?.rttEwmaMs).toBeGreaterThan(390);
  });

  it('does not publish sub-1 % changes, publishes larger ones', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1'], () => true, { load: 0.8 });
    expect(h.weight('n1')?.weight).toBe(1000);
    const quiet = h.run(20_000, ['p1'], ['n1'], () => true, { load: 0.801 });
    expect(changedIds(quiet)).toEqual([]);
    const loud = h.run(20_000, ['p1'], ['n1'], () => true, { load: 0.9 });
    expect(changedIds(loud).length).toBeGreaterThan(0);
    expect(h.weight('n1')?.weight).toBeCloseTo(500, 6);
    expect(h.weight('n1')?.terms?.load).toBe(0.9);
  });

  it('publishes every change with materialChangeRatio 0', () => {
    const h = new Harness([node('n1')], { materialChangeRatio: 0 });
    h.run(70_000, ['p1'], ['n1'], () => true, { load: 0.8 });
    const ticks = h.run(10_000, ['p1'], ['n1'], () => true, { load: 0.801 });
    expect(changedIds(ticks).length).toBeGreaterThan(0);
  });

  it('forgets a reported load once it is older than the freshness TTL', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1'], ['n1'], () => true, { load: 0.9 });
    expect(h.weight('n1')?.weight).toBeCloseTo(500, 6);
    h.run(60_000, ['p1'], ['n1'], () => true, { load: -1 });
    expect(h.weight('n1')?.weight).toBe(1000);
  });
});

describe('createWeightTable: weird inputs', () => {
  it.each([
    ['NaN total_ms', { totalMs: Number.NaN }],
    ['negative RTT', { totalMs: -4 }],
    ['infinite connect_ms', { connectMs: Infinity }],
    ['load above 1', { load: 1.5 }],
    ['NaN load', { load: Number.NaN }],
  ])('rejects %s and applies nothing', (_name, init) => {
    const h = new Harness([node('n1')]);
    const outcome = h.probe('p1', 'n1', true, init);
    expect(outcome.accepted).toBe(false);
    expect(outcome).toMatchObject({ code: 'INVALID_RESULT' });
    expect(h.table.pairCount).toBe(0);
    expect(h.tick().changed[0].health).toBe(Health.UNKNOWN);
  });

  it('rejects results from the future and from long ago', () => {
    const h = new Harness([node('n1')]);
    const make = (startedAtMs: number) =>
      create(ProbeResultSchema, { nodeId: 'n1', ok: true, totalMs: 10, load: -1, startedAtMs: BigInt(startedAtMs) });
    expect(h.table.ingest('p1', make(T0 + 61_000), T0)).toMatchObject({ accepted: false, code: 'CLOCK_SKEW' });
    expect(h.table.ingest('p1', make(T0 - 61_000), T0)).toMatchObject({ accepted: false, code: 'TOO_OLD' });
    expect(h.table.ingest('p1', make(T0 + 30_000), T0)).toEqual({ accepted: true });
  });

  it('rejects out-of-order and duplicate results per (node, prober) without applying them', () => {
    const h = new Harness([node('n1')]);
    h.run(70_000, ['p1', 'p2'], ['n1']);
    const at = (ms: number, ok: boolean) =>
      create(ProbeResultSchema, { nodeId: 'n1', ok, totalMs: 10, load: -1, startedAtMs: BigInt(ms), errorClass: ok ? 0 : 1 });
    h.now += 1_000;
    const now = h.now;
    expect(h.table.ingest('p1', at(now - 300, false), now).accepted).toBe(true);
    expect(h.table.ingest('p1', at(now - 200, false), now).accepted).toBe(true);
    expect(h.table.ingest('p1', at(now - 250, false), now)).toMatchObject({ accepted: false, code: 'OUT_OF_ORDER' });
    expect(h.table.ingest('p1', at(now - 200, false), now)).toMatchObject({
      accepted: false,
      code: 'OUT_OF_ORDER',
      error: expect.stringMatching(/duplicate/),
    });
    // Another prober has its own order.
    expect(h.table.ingest('p2', at(now - 250, true), now).accepted).toBe(true);
    // Two failures applied per prober: still UP. Had the rejected ones been applied, p1 would be
    // DOWN, and with p2 failing too the node would be DOWN.
    expect(h.table.ingest('p2', at(now - 100, false), now).accepted).toBe(true);
    expect(h.table.ingest('p2', at(now - 50, false), now).accepted).toBe(true);
    h.tick();
    expect(h.weight('n1')?.health).toBe(Health.UP);
    expect(h.weight('n1')?.weight).toBeGreaterThan(0);
    expect(h.table.ingest('p1', at(now - 10, false), now).accepted).toBe(true);
    expect(h.table.ingest('p2', at(now - 10, false), now).accepted).toBe(true);
    h.tick();
    expect(h.weight('n1')?.health).toBe(Health.DOWN);
  });

  it('throws on a broken clock from the caller', () => {
    const h = new Harness([node('n1')]);
    expect(() => h.table.tick(Number.NaN)).toThrow(RangeError);
    expect(() => h.table.ingest('p1', create(ProbeResultSchema, { nodeId: 'n1' }), -1)).toThrow(RangeError);
  });
});

describe('createWeightTable: capacity and bookkeeping', () => {
  it('reports healthy and total capacity per tier, changing only when serving nodes change', () => {
    const h = new Harness([
      node('gd-ct', { capacityRps: 100 }),
      node('gd-cu', { isp: 'cu', capacityRps: 200 }),
      node('bj-ct', { region: 'CN-BJ', capacityRps: 400, pools: ['video', 'img'] }),
    ]);
    const first = h.tick();
    expect(first.capacitiesChanged).toBe(true);
    expect(first.capacities.find((c) => c.pool === 'video' && c.tier === Tier.COUNTRY)?.healthyCapacityRps).toBe(700);
    h.run(70_000, ['p1'], ['gd-ct', 'gd-cu', 'bj-ct']);
    const ticks = h.run(20_000, ['p1'], ['gd-ct', 'gd-cu', 'bj-ct'], (_p, n) => n !== 'gd-cu');
    expect(ticks.filter((t) => t.capacitiesChanged)).toHaveLength(1);
    const capacities = h.table.snapshot().capacities;
    const row = (pool: string, tier: Tier, location: string) =>
      capacities.find((c) => c.pool === pool && c.tier === tier && c.location === location);
    expect(row('video', Tier.REGION, 'CN-GD')).toMatchObject({ healthyCapacityRps: 100, totalCapacityRps: 300 });
    expect(row('video', Tier.ISP_REGION, 'CN-GD|cu')).toMatchObject({ healthyCapacityRps: 0, totalCapacityRps: 200 });
    expect(row('video', Tier.ISP_COUNTRY, 'CN|ct')).toMatchObject({ healthyCapacityRps: 500, totalCapacityRps: 500 });
    expect(row('img', Tier.ANY, '*')).toMatchObject({ healthyCapacityRps: 400, totalCapacityRps: 400 });
  });

  it('forgets a prober that stopped reporting after proberForgetMs', () => {
    const h = new Harness([node('n1')]);
    h.run(10_000, ['p1', 'old'], ['n1']);
    expect(h.table.pairCount).toBe(2);
    h.run(295_000, ['p1'], ['n1']);
    expect(h.table.pairCount).toBe(2);
    h.run(10_000, ['p1'], ['n1']);
    expect(h.table.pairCount).toBe(1);
    expect(() => createWeightTable({ proberForgetMs: 1_000 })).toThrow(/proberForgetMs/);
  });

  it('keeps snapshots equal to the deltas applied in order (seeded soak of 40 nodes, 3 probers)', () => {
    let seed = 20_240_601;
    const random = () => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const ids = Array.from({ length: 40 }, (_, i) => `n${i}`);
    const lossOf = new Map(ids.map((id, i) => [id, [0, 0, 0.05, 0.3, 0.5, 1][i % 6]]));
    const docs = ids.map((id, i) => node(id, { capacityRps: 100 + i * 10, isp: i % 2 ? 'ct' : 'cm' }));
    const h = new Harness(docs);
    const applied = new Map<string, NodeWeight>();
    for (let second = 0; second < 600; second++) {
      h.now += 1_000;
      if (second % 5 === 0) {
        for (const p of ['p1', 'p2', 'p3']) {
          for (const id of ids) {
            const ok = random() >= (lossOf.get(id) ?? 0);
            h.probe(p, id, ok, { totalMs: ok ? 20 + random() * 400 : 2_000, load: random() < 0.5 ? random() : -1 });
          }
        }
      }
      if (second % 97 === 0) {
        const i = Math.floor(random() * ids.length);
        const state = [NodeState.ACTIVE, NodeState.DRAIN, NodeState.MAINTENANCE][Math.floor(random() * 3)];
        h.table.upsertNode(node(ids[i], { capacityRps: docs[i].capacityRps, isp: docs[i].isp, state }));
      }
      const tick = h.tick();
      for (const w of tick.changed) applied.set(w.nodeId, w);
      for (const id of tick.removedNodeIds) applied.delete(id);
      for (const w of tick.changed) {
        expect(Number.isFinite(w.weight)).toBe(true);
        expect(w.weight).toBeGreaterThanOrEqual(0);
        expect(w.weight).toBeLessThanOrEqual(w.terms?.capacityRps ?? 0);
        if (w.health === Health.DOWN) expect(w.weight).toBe(0);
      }
    }
    const snapshot = h.table.snapshot().weights;
    expect(new Map(snapshot.map((w) => [w.nodeId, w]))).toEqual(applied);
    const byId = new Map(snapshot.map((w) => [w.nodeId, w]));
    for (const [i, id] of ids.entries()) {
      const w = byId.get(id);
      if (w === undefined) continue;
      if (lossOf.get(id) === 1) expect([w.health, w.weight]).toEqual([Health.DOWN, 0]);
      if (lossOf.get(id) === 0) expect(w.health).toBe(Health.UP);
      if (w.weight > 0) expect(docs[i].state).toBe(NodeState.ACTIVE);
    }
  });
});
