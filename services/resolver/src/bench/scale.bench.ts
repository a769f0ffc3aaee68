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
 * over a mixed query ring (85 % Chinese clients, 10 % overseas, 5 % unlocated; every domain).
 *
 * Fleet: the decide bench's shape (31 provinces × 4 ISPs plus overseas, pools edge / video /
 * static, 3 % DOWN, 2 % drained, 1 % in maintenance); 1,000 domains cycling through its ten
 * policies (strategy, pool, chain, answers), 40 % of them consistent.
 */
import { create } from '@bufbuild/protobuf';
import { AllDownPolicy, DomainSchema, Health, NodeSchema, NodeState, NodeWeightSchema, Strategy, Tier, type Domain, type Node, type NodeWeight } from '@cdn-sched/proto';
import { hashU32 } from '@cdn-sched/rendezvous';
import type { LocationCodes } from '@cdn-sched/location';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildLookupNow, buildRoutingTable, isEagerLookup, LOOKUP_MIN_MEMBERS, createDecisionQuery, createDecisionResult, createRng, decide, type RoutingTable } from '../decision/index.js';

const PROVINCES = ['BJ', 'TJ', 'HE', 'SX', 'NM', 'LN', 'JL', 'HL', 'SH', 'JS', 'ZJ', 'AH', 'FJ', 'JX', 'SD', 'HA', 'HB', 'HN', 'GD', 'GX', 'HI', 'CQ', 'SC', 'GZ', 'YN', 'XZ', 'SN', 'GS', 'QH', 'NX', 'XJ'].map(
  (p) => `CN-${p}`,
);
const ISPS = ['ct', 'cu', 'cm', 'crtc'];
const OVERSEAS = ['US', 'JP', 'SG', 'DE', 'GB', 'FR', 'KR', 'AU', 'BR', 'IN'];
const DOMAINS = 1000;
const RING = 1 << 16;
const DECISIONS = 2_000_000;

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

function decideRing(table: RoutingTable, queries: ReturnType<typeof ring>, decisions: number): number {
  const query = createDecisionQuery(createRng(99));
  const out = createDecisionResult();
  let sink = 0;
  for (let i = 0; i < decisions; i++) {
    const j = i & (RING - 1);
    query.domainIndex = -1;
    query.domain = queries.domains[j]!;
    query.location = queries.locations[j]!;
    query.clientKeyHash = queries.keys[j]!;
    sink += decide(table, query, out).count;
  }
  return sink;
}

function decisionsPerCpuSecond(table: RoutingTable, queries: ReturnType<typeof ring>): number {
  const rates: number[] = [];
  let sink = 0;
  for (let round = 0; round < 4; round++) {
    const c0 = process.cpuUsage();
    sink += decideRing(table, queries, DECISIONS);
    if (round > 0) rates.push(DECISIONS / (cpuMs(process.cpuUsage(c0)) / 1000));
  }
  rates.sort((a, b) => a - b);
  return sink >= 0 ? rates[rates.length >> 1]! : 0;
}

function measure(count: number): number {
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
  const rate = decisionsPerCpuSecond(table, queries);
  const n = `${count / 1000}k_nodes_${DOMAINS}_domains`;
  emit(`table_build_cpu_${n}`, buildCpuMs, 'ms', { wall_ms: Math.round(wallMs), target: count === 100_000 ? '<= 1 s' : '' });
  emit(`table_memory_${n}`, tableMb, 'MB', { groups: table.groupCount, target: count === 100_000 ? '<= 200 MB' : '' });
  emit(`lookup_tables_build_cpu_${n}`, eagerCpuMs + wantedCpuMs, 'ms', { eager_tables: eager, eager_ms: Math.round(eagerCpuMs), on_first_pick_tables: wanted, unused_groups_without: skipped, note: 'background' });
  emit(`table_memory_with_lookup_tables_${n}`, withLookupsMb, 'MB', { target: count === 100_000 ? '<= 200 MB' : '' });
  return rate;
}

const small = measure(10_000);
emit('decisions_per_cpu_s_10k_nodes_1000_domains', small, 'decisions/s');
const big = measure(100_000);
emit('decisions_per_cpu_s_100k_nodes_1000_domains', big, 'decisions/s', { baseline: Math.round(small), ratio: Math.round((big / small) * 100) / 100, target: '>= 0.8 of 10k' });
