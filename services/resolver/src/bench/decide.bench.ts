/**
 * Benchmark of the decision core (docs/architecture.md target: ≥ 1 M decisions/s on one core, flat heap).
 * Run: `cd services/resolver && npx tsc -b tsconfig.lib.json && node --expose-gc dist/bench/decide.bench.js`
 * (without --expose-gc the flag is set at run time). Prints one JSON line per measurement; takes
 * about 20 s of CPU. "Flat heap" is checked two ways: heap used before and after 10 M decisions
 * (each after a full GC), and the number of minor GCs during them — 0 means the decisions
 * allocated nothing at all, not merely nothing that survived. Location lookup (libs/geoip) is not part of it: queries
 * carry location codes drawn from the fleet's own codes, as the resolver gets them after lookup.
 *
 * Fleet: 2,000 nodes over 31 provinces × 4 ISPs plus 10 overseas countries, 3 pools, 10 domains
 * with mixed strategies, chains and answer counts; 3 % DOWN, 2 % drained, 1 % in maintenance, and
 * 5 ISP-regions mostly down so that spill is on the measured path.
 */
import { create } from '@bufbuild/protobuf';
import {
  AllDownPolicy,
  DomainSchema,
  Health,
  NodeSchema,
  NodeState,
  NodeWeightSchema,
  Strategy,
  Tier,
  type Domain,
  type Node,
  type NodeWeight,
} from '@cdn-sched/proto';
import { hashU32, topK } from '@cdn-sched/rendezvous';
import { PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  applyWeightUpdate,
  buildLookupNow,
  buildRoutingTable,
  createDecisionQuery,
  createDecisionResult,
  createRng,
  nextUniform,
  decide,
  pickConsistent,
  weightUpdateSteps,
  type RoutingTable,
} from '../decision/index.js';
import type { LocationCodes } from '@cdn-sched/location';

const PROVINCES = [
  'BJ', 'TJ', 'HE', 'SX', 'NM', 'LN', 'JL', 'HL', 'SH', 'JS', 'ZJ', 'AH', 'FJ', 'JX', 'SD', 'HA',
  'HB', 'HN', 'GD', 'GX', 'HI', 'CQ', 'SC', 'GZ', 'YN', 'XZ', 'SN', 'GS', 'QH', 'NX', 'XJ',
].map((p) => `CN-${p}`);
const ISPS = ['ct', 'cu', 'cm', 'crtc'];
const OVERSEAS = ['US', 'JP', 'SG', 'DE', 'GB', 'FR', 'KR', 'AU', 'BR', 'IN'];
const ROUNDS = 5;
const DECISIONS_PER_ROUND = 1_000_000;
const HEAP_DECISIONS = 10_000_000;
const QUERY_RING = 1 << 16;

function fleet(count: number, rand: () => number): { nodes: Node[]; weights: NodeWeight[] } {
  const nodes: Node[] = [];
  const weights: NodeWeight[] = [];
  const overseas = Math.round(count * 0.07);
  const mostlyDown = new Set(['CN-GD|cm', 'CN-SC|cu', 'CN-HB|ct', 'CN-XJ|crtc', 'CN-YN|ct']);
  for (let i = 0; i < count; i++) {
    const cn = i >= overseas;
    const country = cn ? 'CN' : OVERSEAS[i % OVERSEAS.length]!;
    const region = cn ? PROVINCES[i % PROVINCES.length]! : `${country}-${1 + (i % 3)}`;
    const isp = cn ? ISPS[Math.floor(i / PROVINCES.length) % ISPS.length]! : i % 2 === 0 ? 'isp1' : '';
    const pools = ['edge', ...(i % 2 === 0 ? ['video'] : []), ...(i % 5 === 0 ? ['static'] : [])];
    const r = rand();
    const state = r < 0.01 ? NodeState.MAINTENANCE : r < 0.03 ? NodeState.DRAIN : NodeState.ACTIVE;
    const id = `edge-${i}`;
    nodes.push(
      create(NodeSchema, {
        id,
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: 443,
        country,
        region,
        isp,
        capacityRps: 500 + Math.floor(rand() * 1500),
        state,
        pools,
      }),
    );
    const down = rand() < (mostlyDown.has(`${region}|${isp}`) ? 0.8 : 0.03);
    weights.push(
      create(NodeWeightSchema, {
        nodeId: id,
        weight: down ? 0 : 50 + rand() * 100,
        health: down ? Health.DOWN : Health.UP,
      }),
    );
  }
  return { nodes, weights };
}

function domains(): Domain[] {
  const full = [Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY];
  const spec: [string, string, number, Strategy, Tier[], AllDownPolicy][] = [
    ['www.example.com', 'edge', 1, Strategy.WEIGHTED, full, AllDownPolicy.BEST_EFFORT],
    ['img.example.com', 'edge', 2, Strategy.CONSISTENT, full, AllDownPolicy.BEST_EFFORT],
    ['video.example.com', 'video', 1, Strategy.CONSISTENT, full, AllDownPolicy.BEST_EFFORT],
    ['live.example.com', 'video', 2, Strategy.WEIGHTED, [Tier.ISP_REGION, Tier.REGION, Tier.COUNTRY], AllDownPolicy.ERROR],
    ['static.example.com', 'static', 1, Strategy.WEIGHTED, [Tier.REGION, Tier.COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['dl.example.com', 'static', 4, Strategy.CONSISTENT, [Tier.ISP_COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['api.example.com', 'edge', 2, Strategy.WEIGHTED, [Tier.ISP_REGION, Tier.ISP_COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['m.example.com', 'edge', 1, Strategy.WEIGHTED, [Tier.REGION, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['cdn.example.com', 'video', 3, Strategy.WEIGHTED, full, AllDownPolicy.BEST_EFFORT],
    ['hls.example.com', 'video', 1, Strategy.CONSISTENT, [Tier.ISP_REGION, Tier.REGION], AllDownPolicy.ERROR],
  ];
  return spec.map(([domain, pool, answers, strategy, fallback, allDown]) =>
    create(DomainSchema, { domain, pool, answers, ttlS: 300, strategy, fallback, allDown }),
  );
}

interface QueryRing {
  domains: string[];
  locations: LocationCodes[];
  keys: Uint32Array;
}

/** 85 % Chinese clients (a few with no or an unserved ISP), 10 % overseas, 5 % unknown. */
function queryRing(table: RoutingTable, rand: () => number): QueryRing {
  const names = table.domains.map((d) => d.domain);
  const ring: QueryRing = { domains: [], locations: [], keys: new Uint32Array(QUERY_RING) };
  for (let i = 0; i < QUERY_RING; i++) {
    const r = rand();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let location: LocationCodes;
    if (r < 0.85) location = { country: 'CN', region: pick(PROVINCES), isp: pick([...ISPS, ...ISPS, 'cernet', '']) };
    else if (r < 0.95) location = { country: pick(OVERSEAS), region: '', isp: '' };
    else location = { country: '', region: '', isp: '' };
    ring.locations.push(location);
    ring.domains.push(pick(names));
    ring.keys[i] = hashU32(Math.floor(rand() * 2 ** 24) << 8);
  }
  return ring;
}

/** The queries of `ring` for domains of one strategy, repeated to fill a ring again. */
function onlyStrategy(table: RoutingTable, ring: QueryRing, strategy: Strategy): QueryRing {
  const picked: number[] = [];
  for (let j = 0; j < QUERY_RING; j++) {
    if (table.domains[table.domainIndex.get(ring.domains[j]!)!]!.strategy === strategy) picked.push(j);
  }
  const out: QueryRing = { domains: [], locations: [], keys: new Uint32Array(QUERY_RING) };
  for (let i = 0; i < QUERY_RING; i++) {
    const j = picked[i % picked.length]!;
    out.domains.push(ring.domains[j]!);
    out.locations.push(ring.locations[j]!);
    out.keys[i] = ring.keys[j]!;
  }
  return out;
}

function run(table: RoutingTable, ring: QueryRing, decisions: number): number {
  const query = createDecisionQuery(createRng(1234));
  const out = createDecisionResult();
  let answers = 0;
  for (let i = 0; i < decisions; i++) {
    const j = i & (QUERY_RING - 1);
    query.domain = ring.domains[j]!;
    query.location = ring.locations[j]!;
    query.clientKeyHash = ring.keys[j]!;
    answers += decide(table, query, out).count;
  }
  return answers;
}

/**
 * Median decisions/s over `rounds` runs of `decisions`, by wall clock and by this process's CPU
 * time. The machine is shared: when other processes take the cores, the wall-clock figure drops
 * while the CPU-time one (decisions per second of one core actually spent) stays put.
 */
function rate(name: string, table: RoutingTable, ring: QueryRing, rounds: number, decisions: number): void {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    run(table, ring, decisions);
    wall.push(decisions / (Number(process.hrtime.bigint() - t0) / 1e9));
    const c = process.cpuUsage(c0);
    cpu.push(decisions / ((c.user + c.system) / 1e6));
  }
  emit('decide', `${name}_per_s_median`, median(wall), 'decisions/s');
  emit('decide', `${name}_per_cpu_s_median`, median(cpu), 'decisions/s');
}

/**
 * Consistent picks from the lookup tables at every tier size, against scoring rendezvous over the
 * whole tier (libs/rendezvous topK, what a pick cost before the tables) on the same group and keys
 * in the same run; and what building the table costs at that size.
 */
function consistentPickRates(): void {
  const out = new Int32Array(16);
  for (const size of [15, 100, 1000, 2000, 10_000]) {
    const nodes = Array.from({ length: size }, (_, i) =>
      create(NodeSchema, { id: `edge-${i}`, address: '10.0.0.1', port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacityRps: 1000, state: NodeState.ACTIVE, pools: ['edge'] }),
    );
    const weights = nodes.map((n, i) => create(NodeWeightSchema, { nodeId: n.id, weight: 50 + (i % 100), health: Health.UP }));
    const domain = create(DomainSchema, { domain: 'c.example', pool: 'edge', answers: 2, ttlS: 300, strategy: Strategy.CONSISTENT, fallback: [Tier.ANY], allDown: AllDownPolicy.BEST_EFFORT });
    const table = buildRoutingTable({ nodes, weights, domains: [domain], configVersion: 1n, weightsVersion: 1n });
    const group = table.pools.get('edge')!.all;
    const builds: number[] = [];
    for (let r = 0; r < (size >= 2000 ? 2 : 5); r++) {
      const c0 = process.cpuUsage();
      buildLookupNow(group);
      const c = process.cpuUsage(c0);
      builds.push((c.user + c.system) / 1000);
    }
    const measure = (picks: number, f: (key: number) => number): number => {
      let sink = 0;
      for (let i = 0; i < picks / 4; i++) sink += f(hashU32(i << 8));
      const rates: number[] = [];
      for (let r = 0; r < 3; r++) {
        // CPU time of this process: on a shared machine the wall clock counts other processes too.
        const c0 = process.cpuUsage();
        for (let i = 0; i < picks; i++) sink += f(hashU32(i << 8) | 0);
        const c = process.cpuUsage(c0);
        rates.push(picks / ((c.user + c.system) / 1e6));
      }
      return sink >= 0 ? median(rates) : 0;
    };
    const k1 = measure(4_000_000, (key) => pickConsistent(group, key, 1, out, table.nodes.weights));
    const k2 = measure(4_000_000, (key) => pickConsistent(group, key, 2, out, table.nodes.weights));
    const scored = measure(Math.max(2_000, Math.floor(4_000_000 / size)), (key) => topK(key, group.hashes, group.weights, 2, out));
    const row = (metric: string, value: number, unit: string, extra: object = {}): void =>
      console.log(JSON.stringify({ bench: 'decide', metric, value, unit, ...extra }));
    row(`consistent_pick_k1_${size}_members`, Math.round(k1), 'picks/s', { target: '>= 5 M/s' });
    row(`consistent_pick_k2_${size}_members`, Math.round(k2), 'picks/s', { baseline: Math.round(scored), ratio: Math.round((k2 / scored) * 100) / 100, target: '>= 5 M/s' });
    row(`consistent_table_build_cpu_${size}_members`, Math.round(median(builds) * 100) / 100, 'ms', { slots: group.lookup.table!.length });
  }
}

/**
 * A weight-only update of 100 of the 10 k nodes (new weights, a few DOWN), applied to the groups
 * that hold them (weight-update.ts), against the full rebuild of the same table measured just
 * before: the cost of one weight-calculator tick during a whole-fleet slow start.
 */
function weightOnlyUpdate(big: { nodes: Node[]; weights: NodeWeight[] }, fullRebuildMs: number, rand: () => number): void {
  let table = buildRoutingTable({ ...big, domains: domains(), configVersion: 1n, weightsVersion: 1n, lookups: 'later' });
  const times: number[] = [];
  // A resolver applies one update per weight-calculator tick (10 a second during a slow start), so
  // the figure is the steady state: the median after 100 warm-up rounds. The first 30 rounds (code
  // not yet optimised by the JIT: the first few seconds of a slow start) are reported apart.
  for (let round = 0; round < 300; round++) {
    const changes: NodeWeight[] = [];
    for (let c = 0; c < 100; c++) {
      const i = Math.floor(rand() * big.nodes.length);
      const down = rand() < 0.05;
      changes.push(create(NodeWeightSchema, { nodeId: big.nodes[i]!.id, weight: down ? 0 : 50 + rand() * 100, health: down ? Health.DOWN : Health.UP }));
    }
    // CPU time of this thread, not wall time: on a shared machine the wall clock also counts the
    // time other processes held the core.
    const c0 = process.cpuUsage();
    const next = applyWeightUpdate(table, { weights: changes, weightsVersion: BigInt(round + 2) });
    const c = process.cpuUsage(c0);
    times.push((c.user + c.system) / 1000);
    if (next === undefined) throw new Error('weight-only update fell back to a full rebuild');
    table = next;
  }
  const ms = median(times.slice(100));
  const cold = median(times.slice(0, 30));
  console.log(
    JSON.stringify({
      bench: 'decide',
      metric: 'weight_update_100_of_10k_nodes_cpu',
      value: Math.round(ms * 1000) / 1000,
      unit: 'ms',
      baseline: Math.round(fullRebuildMs * 100) / 100,
      ratio: Math.round((ms / fullRebuildMs) * 10000) / 10000,
      target: '<= 1 ms, no full rebuild',
    }),
  );
  console.log(JSON.stringify({ bench: 'decide', metric: 'weight_update_100_of_10k_nodes_cpu_first_30_rounds', value: Math.round(cold * 1000) / 1000, unit: 'ms' }));
}

/**
 * A whole-fleet slow-start step: every one of the 10 k nodes changes weight in one version, applied
 * as the resolver applies it — `weightUpdateSteps` run to the end, each step timed. The resolver
 * runs these steps in slices of about a millisecond (routing-state.ts), so the longest single step
 * is the least time the update holds the event loop at once, whatever the slice: the figure for
 * the event-loop delay target of a slow start. Medians over 20 rounds after 10 warm-up rounds.
 */
function wholeFleetStep(big: { nodes: Node[]; weights: NodeWeight[] }, rand: () => number): void {
  let table = buildRoutingTable({ ...big, domains: domains(), configVersion: 1n, weightsVersion: 1n, lookups: 'later' });
  const totals: number[] = [];
  const longest: number[] = [];
  const counts: number[] = [];
  for (let round = 0; round < 30; round++) {
    const changes = big.nodes.map((n) => create(NodeWeightSchema, { nodeId: n.id, weight: 10 + rand() * 100, health: Health.UP }));
    const steps = weightUpdateSteps(table, { weights: changes, weightsVersion: BigInt(round + 2) });
    let total = 0;
    let max = 0;
    let count = 0;
    for (;;) {
      const t0 = performance.now();
      const r = steps.next();
      const ms = performance.now() - t0;
      total += ms;
      count++;
      if (ms > max) max = ms;
      if (r.done) {
        if (r.value === undefined) throw new Error('whole-fleet update fell back to a full rebuild');
        table = r.value;
        break;
      }
    }
    if (round >= 10) {
      totals.push(total);
      longest.push(max);
      counts.push(count);
    }
  }
  emit('decide', 'weight_update_10k_of_10k_nodes_total', median(totals), 'ms', { steps: median(counts) });
  emit('decide', 'weight_update_10k_of_10k_nodes_longest_step', median(longest), 'ms', { max_of_rounds: Math.round(Math.max(...longest) * 100) / 100 });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function emit(bench: string, metric: string, value: number, unit: string, extra: object = {}): void {
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit, ...extra }));
}

/** A full GC if one can be had: `--expose-gc`, or the same flag set at run time. */
function fullGc(): () => void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return exposed;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function main(): Promise<void> {
  const rng = createRng(20240601);
  const rand = (): number => nextUniform(rng);
  const gc = fullGc();

  const big = fleet(10_000, rand);
  const rebuilds: number[] = [];
  const rebuildsCpu: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    buildRoutingTable({ ...big, domains: domains(), configVersion: 1n, weightsVersion: BigInt(i), lookups: 'later' });
    const c = process.cpuUsage(c0);
    rebuilds.push(performance.now() - t0);
    rebuildsCpu.push((c.user + c.system) / 1000);
  }
  // What the resolver does synchronously on a membership or policy change; the consistent lookup
  // tables follow in the background (consistent-lookups.ts), measured next as a whole.
  emit('decide', 'rebuild_10k_nodes_10_domains', median(rebuilds), 'ms');
  emit('decide', 'rebuild_10k_nodes_10_domains_cpu', median(rebuildsCpu), 'ms');
  weightOnlyUpdate(big, median(rebuildsCpu), rand);
  wholeFleetStep(big, rand);

  const { nodes, weights } = fleet(2_000, rand);
  const table = buildRoutingTable({ nodes, weights, domains: domains(), configVersion: 1n, weightsVersion: 1n });
  const ring = queryRing(table, rand);
  run(table, ring, 500_000); // warm-up: let the JIT settle before measuring

  rate('decisions', table, ring, ROUNDS, DECISIONS_PER_ROUND);
  const weighted = onlyStrategy(table, ring, Strategy.WEIGHTED);
  const consistent = onlyStrategy(table, ring, Strategy.CONSISTENT);
  run(table, weighted, 200_000);
  run(table, consistent, 200_000);
  rate('weighted_decisions', table, weighted, 5, 500_000);
  rate('consistent_decisions', table, consistent, 5, 200_000);
  consistentPickRates();

  let minorGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
      if (e.detail?.kind === 1) minorGcs++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  gc();
  const before = process.memoryUsage().heapUsed;
  run(table, ring, HEAP_DECISIONS);
  const afterNoGc = process.memoryUsage().heapUsed;
  gc();
  const after = process.memoryUsage().heapUsed;
  await new Promise((resolve) => setTimeout(resolve, 50)); // gc entries are delivered asynchronously
  observer.disconnect();
  emit('decide', 'heap_used_before_10M', before / 1024, 'KiB');
  emit('decide', 'heap_used_after_10M_no_gc', afterNoGc / 1024, 'KiB');
  emit('decide', 'heap_used_after_10M_gc', after / 1024, 'KiB');
  emit('decide', 'heap_used_delta_10M_gc', (after - before) / 1024, 'KiB');
  emit('decide', 'minor_gcs_during_10M', minorGcs, 'count');
}

await main();
