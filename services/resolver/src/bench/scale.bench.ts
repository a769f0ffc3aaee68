/**
 * The decision core at fleet scale: 100 k nodes and 1,000 domains against 10 k nodes and the same
 * 1,000 domains, measured in the same run (targets: table build ≤ 1 s, ≤ 200 MB, decisions/s within
 * 20 % of the 10 k-node figure).
 *
 * Run: `npm run bench -- scale` (or `node --expose-gc services/resolver/dist/bench/scale.bench.js`).
 * For each fleet size it reports: the synchronous table build (what a config change costs before
 * the new table answers; CPU and wall), the consistent lookup tables the resolver then builds in
 * the background (CPU: those of every weight group up to LOOKUP_EAGER_MAX_BYTES, and of the larger
 * groups the query mix picks from — the others stay without), memory after a full GC (JS heap + array buffers, the latter holding every
 * typed array of the tables) without and with those lookup tables, and decisions per CPU-second
 * over a mixed query ring (85 % Chinese clients, 10 % overseas, 5 % unlocated; every domain), in
 * rounds that alternate between the two fleets. `BENCH_COMPARE` (below) measures a code change.
 *
 * Fleet: the decide bench's shape (31 provinces × 4 ISPs plus overseas, pools edge / video /
 * static, 3 % DOWN, 2 % drained, 1 % in maintenance); 1,000 domains cycling through its ten
 * policies (strategy, pool, chain, answers), 40 % of them consistent.
 */
import { create } from '@bufbuild/protobuf';
import { AllDownPolicy, DomainSchema, Health, NodeSchema, NodeState, NodeWeightSchema, Strategy, Tier, type Domain, type Node, type NodeWeight } from '@cdn-sched/proto';
import { hashU32 } from '@cdn-sched/rendezvous';
import type { LocationCodes } from '@cdn-sched/location';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { median } from './bench-protocol.js';
import { buildLookupNow, buildRoutingTable, isEagerLookup, LOOKUP_MIN_MEMBERS, createDecisionQuery, createDecisionResult, createRng, decide, type RoutingTable } from '../decision/index.js';

const PROVINCES = ['BJ', 'TJ', 'HE', 'SX', 'NM', 'LN', 'JL', 'HL', 'SH', 'JS', 'ZJ', 'AH', 'FJ', 'JX', 'SD', 'HA', 'HB', 'HN', 'GD', 'GX', 'HI', 'CQ', 'SC', 'GZ', 'YN', 'XZ', 'SN', 'GS', 'QH', 'NX', 'XJ'].map(
  (p) => `CN-${p}`,
);
const ISPS = ['ct', 'cu', 'cm', 'crtc'];
const OVERSEAS = ['US', 'JP', 'SG', 'DE', 'GB', 'FR', 'KR', 'AU', 'BR', 'IN'];
const DOMAINS = 1000;
const RING = 1 << 16;
const DECISIONS = 2_000_000;
// Alternating rounds of each fleet size that the decision rates are the medians of.
const ROUND_PAIRS = 9;

const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (setFlagsFromString('--expose-gc'), runInNewContext('gc') as () => void);

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296);
}

function fleet(count: number, rand: () => number): { nodes: Node[]; weights: NodeWeight[] } {
  const nodes: Node[] = [];
  const weights: NodeWeight[] = [];
  const overseas = Math.round(count * 0.07);
  for (let i = 0; i < count; i++) {
    const cn = i >= overseas;
    const country = cn ? 'CN' : OVERSEAS[i % OVERSEAS.length]!;
    const region = cn ? PROVINCES[i % PROVINCES.length]! : `${country}-${1 + (i % 3)}`;
    const isp = cn ? ISPS[Math.floor(i / PROVINCES.length) % ISPS.length]! : i % 2 === 0 ? 'isp1' : '';
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
        pools: ['edge', ...(i % 2 === 0 ? ['video'] : []), ...(i % 5 === 0 ? ['static'] : [])],
      }),
    );
    const down = rand() < 0.03;
    weights.push(create(NodeWeightSchema, { nodeId: id, weight: down ? 0 : 50 + rand() * 100, health: down ? Health.DOWN : Health.UP }));
  }
  return { nodes, weights };
}

function domains(): Domain[] {
  const full = [Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY];
  const spec: [string, number, Strategy, Tier[], AllDownPolicy][] = [
    ['edge', 1, Strategy.WEIGHTED, full, AllDownPolicy.BEST_EFFORT],
    ['edge', 2, Strategy.CONSISTENT, full, AllDownPolicy.BEST_EFFORT],
    ['video', 1, Strategy.CONSISTENT, full, AllDownPolicy.BEST_EFFORT],
    ['video', 2, Strategy.WEIGHTED, [Tier.ISP_REGION, Tier.REGION, Tier.COUNTRY], AllDownPolicy.ERROR],
    ['static', 1, Strategy.WEIGHTED, [Tier.REGION, Tier.COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['static', 4, Strategy.CONSISTENT, [Tier.ISP_COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['edge', 2, Strategy.WEIGHTED, [Tier.ISP_REGION, Tier.ISP_COUNTRY, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['edge', 1, Strategy.WEIGHTED, [Tier.REGION, Tier.ANY], AllDownPolicy.BEST_EFFORT],
    ['video', 3, Strategy.WEIGHTED, full, AllDownPolicy.BEST_EFFORT],
    ['video', 1, Strategy.CONSISTENT, [Tier.ISP_REGION, Tier.REGION], AllDownPolicy.ERROR],
  ];
  return Array.from({ length: DOMAINS }, (_, i) => {
    const [pool, answers, strategy, fallback, allDown] = spec[i % spec.length]!;
    return create(DomainSchema, { domain: `d${i}.example.com`, pool, answers, ttlS: 300, strategy, fallback, allDown });
  });
}

function ring(rand: () => number): { domains: string[]; locations: LocationCodes[]; keys: Uint32Array } {
  const out = { domains: [] as string[], locations: [] as LocationCodes[], keys: new Uint32Array(RING) };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  for (let i = 0; i < RING; i++) {
    const r = rand();
    out.locations.push(
      r < 0.85 ? { country: 'CN', region: pick(PROVINCES), isp: pick([...ISPS, ...ISPS, 'cernet', '']) } : r < 0.95 ? { country: pick(OVERSEAS), region: '', isp: '' } : { country: '', region: '', isp: '' },
    );
    out.domains.push(`d${Math.floor(rand() * DOMAINS)}.example.com`);
    out.keys[i] = hashU32(Math.floor(rand() * 2 ** 24) << 8);
  }
  return out;
}

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;
const memoryMb = (): number => {
  gc();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
};
const emit = (metric: string, value: number, unit: string, extra: object = {}): void =>
  console.log(JSON.stringify({ bench: 'scale', metric, value: Math.round(value * 100) / 100, unit, ...extra }));

/** What a decision round calls: this build's decision module, or another's (BENCH_COMPARE). */
interface DecisionCore {
  decide: typeof decide;
  createDecisionQuery: typeof createDecisionQuery;
  createDecisionResult: typeof createDecisionResult;
  createRng: typeof createRng;
}
const thisBuild: DecisionCore = { decide, createDecisionQuery, createDecisionResult, createRng };

function decideRing(table: RoutingTable, queries: ReturnType<typeof ring>, decisions: number, core: DecisionCore = thisBuild): number {
  const query = core.createDecisionQuery(core.createRng(99));
  const out = core.createDecisionResult();
  let sink = 0;
  for (let i = 0; i < decisions; i++) {
    const j = i & (RING - 1);
    query.domainIndex = -1;
    query.domain = queries.domains[j]!;
    query.location = queries.locations[j]!;
    query.clientKeyHash = queries.keys[j]!;
    sink += core.decide(table, query, out).count;
  }
  return sink;
}

/** CPU seconds of one round of DECISIONS decisions over the ring, as decisions per CPU-second. */
function roundRate(table: RoutingTable, queries: ReturnType<typeof ring>, core: DecisionCore = thisBuild): number {
  const c0 = process.cpuUsage();
  const sink = decideRing(table, queries, DECISIONS, core);
  return sink >= 0 ? DECISIONS / (cpuMs(process.cpuUsage(c0)) / 1000) : 0;
}

/**
 * Rates of two kinds of round run in ROUND_PAIRS alternating pairs (a b, b a, a b, …) after one
 * warm-up round each: this shared 2-core VM's rate drifts by up to 1.5× between runs and within
 * one, so two phases run one after the other would measure the drift as much as the difference.
 */
function alternatingRates(a: () => number, b: () => number): { a: number[]; b: number[] } {
  a();
  b();
  const rates = { a: [] as number[], b: [] as number[] };
  for (let pair = 0; pair < ROUND_PAIRS; pair++) {
    const aFirst = pair % 2 === 0;
    if (aFirst) rates.a.push(a());
    rates.b.push(b());
    if (!aFirst) rates.a.push(a());
  }
  return rates;
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The fields that report `rates` against `baseline`, measured in the same pairs: the median of the pairs' ratios, and their range. */
function againstBaseline(rates: readonly number[], baseline: readonly number[]): { baseline: number; ratio: number; ratio_range: number[] } {
  const ratios = rates.map((r, i) => r / baseline[i]!);
  return { baseline: Math.round(median(baseline)), ratio: round2(median(ratios)), ratio_range: [round2(Math.min(...ratios)), round2(Math.max(...ratios))] };
}

function measure(count: number): { table: RoutingTable; queries: ReturnType<typeof ring> } {
  const rand = lcg(count);
  const docs = fleet(count, rand);
  const doms = domains();
  const before = memoryMb();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const table = buildRoutingTable({ ...docs, domains: doms, configVersion: 1n, weightsVersion: 1n, lookups: 'later' });
  const wallMs = performance.now() - t0;
  const buildCpuMs = cpuMs(process.cpuUsage(c0));
  const tableMb = memoryMb() - before;
  // The lookup tables the resolver's refresher builds (consistent-lookups.ts): every weight group's
  // up to LOOKUP_EAGER_MAX_BYTES at once, then those of larger groups the query mix picks from
  // (one pass over the ring marks them, as the first picks in a resolver do).
  const queries = ring(lcg(7));
  const c1 = process.cpuUsage();
  let eager = 0;
  for (const g of table.consistentGroups) {
    if (g.size < LOOKUP_MIN_MEMBERS || !isEagerLookup(g)) continue;
    buildLookupNow(g);
    eager++;
  }
  const eagerCpuMs = cpuMs(process.cpuUsage(c1));
  decideRing(table, queries, RING);
  const c2 = process.cpuUsage();
  let wanted = 0;
  for (const g of table.consistentGroups) {
    if (!g.lookup.wanted || g.lookup.table !== null) continue;
    buildLookupNow(g);
    wanted++;
  }
  const wantedCpuMs = cpuMs(process.cpuUsage(c2));
  const skipped = table.consistentGroups.filter((g) => g.size >= LOOKUP_MIN_MEMBERS && g.lookup.table === null).length;
  const withLookupsMb = memoryMb() - before;
  const n = `${count / 1000}k_nodes_${DOMAINS}_domains`;
  emit(`table_build_cpu_${n}`, buildCpuMs, 'ms', { wall_ms: Math.round(wallMs), target: count === 100_000 ? '<= 1 s' : '' });
  emit(`table_memory_${n}`, tableMb, 'MB', { groups: table.groupCount, target: count === 100_000 ? '<= 200 MB' : '' });
  emit(`lookup_tables_build_cpu_${n}`, eagerCpuMs + wantedCpuMs, 'ms', { eager_tables: eager, eager_ms: Math.round(eagerCpuMs), on_first_pick_tables: wanted, unused_groups_without: skipped, note: 'background' });
  emit(`table_memory_with_lookup_tables_${n}`, withLookupsMb, 'MB', { target: count === 100_000 ? '<= 200 MB' : '' });
  return { table, queries };
}

// Both tables stay built, and their decision rounds alternate.
const small = measure(10_000);
const big = measure(100_000);
const fleetRates = alternatingRates(
  () => roundRate(small.table, small.queries),
  () => roundRate(big.table, big.queries),
);
emit('decisions_per_cpu_s_10k_nodes_1000_domains', median(fleetRates.a), 'decisions/s', { rounds: fleetRates.a.length });
emit('decisions_per_cpu_s_100k_nodes_1000_domains', median(fleetRates.b), 'decisions/s', {
  ...againstBaseline(fleetRates.b, fleetRates.a),
  note: 'ratio: median over alternating round pairs',
  target: '>= 0.8 of 10k',
});

// BENCH_COMPARE: a directory holding another build of this package's `decision` module (for
// example the previous commit's `services/resolver/dist/decision`, copied to
// `services/resolver/dist/decision-before`, so that its package imports resolve). Its rounds then
// alternate with this build's over the same two tables, and the bench reports this build's rate
// against it per fleet size: a code change measured apart from the run-to-run drift, which is
// larger than most changes (0.53–0.75 for the ratio above in 13 runs of one build).
const compareDir = process.env['BENCH_COMPARE'];
if (compareDir !== undefined && compareDir !== '') {
  const other = (await import(pathToFileURL(resolve(compareDir, 'index.js')).href)) as DecisionCore;
  const fleets = [
    ['10k', small],
    ['100k', big],
  ] as const;
  for (const [name, run] of fleets) {
    const rates = alternatingRates(
      () => roundRate(run.table, run.queries),
      () => roundRate(run.table, run.queries, other),
    );
    emit(`decisions_per_cpu_s_${name}_nodes_against_compare_build`, median(rates.a), 'decisions/s', { ...againstBaseline(rates.a, rates.b), compare: compareDir });
  }
}
