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
  buildRoutingTable,
  createDecisionQuery,
  createDecisionResult,
  createRng,
  nextUniform,
  decide,
  pickConsistent,
  type CandidateGroup,
  type ClientLocation,
  type RoutingTable,
} from '../decision/index.js';

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
  locations: ClientLocation[];
  keys: Uint32Array;
}

/** 85 % Chinese clients (a few with no or an unserved ISP), 10 % overseas, 5 % unknown. */
function queryRing(table: RoutingTable, rand: () => number): QueryRing {
  const names = table.domains.map((d) => d.domain);
  const ring: QueryRing = { domains: [], locations: [], keys: new Uint32Array(QUERY_RING) };
  for (let i = 0; i < QUERY_RING; i++) {
    const r = rand();
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    let location: ClientLocation;
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
 * pickConsistent (pruned) against libs/rendezvous topK on the same group and keys: the reason the
 * decision core scores rendezvous itself (same results, checked in pick.spec.ts).
 */
function comparePickWithTopK(table: RoutingTable): void {
  const pool = table.pools.get('edge')!;
  const sizes: [string, CandidateGroup][] = [
    ['isp_region', [...pool.tiers[Tier.ISP_REGION]!.values()].find((g) => g.size >= 12)!],
    ['any', pool.all],
  ];
  const out = new Int32Array(16);
  for (const [name, group] of sizes) {
    const picks = Math.max(2_000, Math.floor(8_000_000 / group.size));
    const measure = (f: (key: number) => number): number => {
      let sink = 0;
      for (let i = 0; i < picks / 4; i++) sink += f(hashU32(i << 8));
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < picks; i++) sink += f(hashU32(i << 8));
      const rate = picks / (Number(process.hrtime.bigint() - t0) / 1e9);
      return sink >= 0 ? rate : 0;
    };
    const mine = measure((key) => pickConsistent(group, key | 0, 2, out));
    const lib = measure((key) => topK(key, group.hashes, group.weights, 2, out));
    console.log(
      JSON.stringify({
        bench: 'decide',
        metric: `consistent_pick_k2_${name}_${group.size}_members`,
        value: Math.round(mine),
        unit: 'picks/s',
        baseline: Math.round(lib),
        ratio: Math.round((mine / lib) * 100) / 100,
      }),
    );
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function emit(bench: string, metric: string, value: number, unit: string): void {
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 100) / 100, unit }));
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
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    buildRoutingTable({ ...big, domains: domains(), configVersion: 1n, weightsVersion: BigInt(i) });
    rebuilds.push(performance.now() - t0);
  }
  emit('decide', 'rebuild_10k_nodes_10_domains', median(rebuilds), 'ms');

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
  comparePickWithTopK(table);

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
