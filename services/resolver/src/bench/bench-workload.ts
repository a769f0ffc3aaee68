/**
 * The serving benchmark's workload, rebuilt from a seed in each process that needs it (the same
 * seed gives the same table and queries everywhere, so nothing large crosses process boundaries
 * but the encoded request batches):
 *
 * - the fleet documents of the routing table: 2,000 nodes over the 31 mainland provinces × 4 ISPs
 *   plus 7 % overseas, 3 pools, 10 domains with mixed strategies, fallback chains and answer counts;
 *   3 % DOWN, 2 % drained, 1 % in maintenance;
 * - client addresses drawn at random from the whole IPv4 space and kept by what the real IP
 *   database says of them, until the mix is 85 % Chinese, 10 % overseas and 5 % unlocated (the
 *   unlocated ones are answered from the `any` tier, or fail on domains whose chain has none);
 * - request batches: one query per address, a random domain, and for 10 % of the queries an EDNS
 *   client subnet (a /24 of the client, sent through a public resolver's address), the way a DNS
 *   front-end forwards queries it got from 114.114.114.114 and the like.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import { formatIpv4, provinceCodeTable, type GeoIpDatabase } from '@cdn-sched/geoip';
import {
  AllDownPolicy,
  Health,
  NodeState,
  ResolveRequestSchema,
  ResolveStreamRequestSchema,
  Strategy,
  Tier,
  type Domain,
  type Node,
  type NodeWeight,
  type ResolveRequest,
} from '@cdn-sched/proto';
import { makeDomain, makeNode, makeWeight } from '../decision/fixtures.js';
import { buildRoutingTable, createRng, nextU32, nextUniform, type RoutingTable } from '../decision/index.js';

/** The mainland provinces: ISO lists HK, MO and TW under CN too, the IP database under their own codes. */
const PROVINCES = Object.values(provinceCodeTable()).filter((code) => !['CN-HK', 'CN-MO', 'CN-TW'].includes(code));
const ISPS = ['ct', 'cu', 'cm', 'crtc'];
const OVERSEAS = ['HK', 'JP', 'SG', 'US', 'DE', 'KR', 'GB'];
/** Where the ECS share of queries comes from: the client's resolver, not the client. */
const PUBLIC_RESOLVERS = ['114.114.114.114', '223.5.5.5', '119.29.29.29', '180.76.76.76'];

/** The documents of the benchmark's routing table. */
export interface BenchFleet {
  nodes: Node[];
  weights: NodeWeight[];
  domains: Domain[];
}

/** `count` nodes (default 2,000) and the 10 domains, from `seed`. */
export function createBenchFleet(seed: number, count = 2000): BenchFleet {
  const rng = createRng(seed);
  const nodes: Node[] = [];
  const weights: NodeWeight[] = [];
  const overseas = Math.round(count * 0.07);
  for (let i = 0; i < count; i++) {
    const cn = i >= overseas;
    const region = cn ? PROVINCES[i % PROVINCES.length]! : '';
    // floor(i / 31) walks the ISPs once per lap of the provinces: every (province, ISP) pair gets nodes.
    const isp = cn ? ISPS[Math.floor(i / PROVINCES.length) % ISPS.length]! : '';
    const r = nextUniform(rng);
    const id = `edge-${i}`;
    nodes.push(
      makeNode(id, {
        address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        country: cn ? 'CN' : OVERSEAS[i % OVERSEAS.length]!,
        region,
        isp,
        capacityRps: 500 + Math.floor(nextUniform(rng) * 1500),
        state: r < 0.01 ? NodeState.MAINTENANCE : r < 0.03 ? NodeState.DRAIN : NodeState.ACTIVE,
        pools: ['edge', ...(i % 2 === 0 ? ['video'] : []), ...(i % 5 === 0 ? ['static'] : [])],
      }),
    );
    const down = nextUniform(rng) < 0.03;
    weights.push(makeWeight(id, { weight: down ? 0 : 50 + nextUniform(rng) * 100, health: down ? Health.DOWN : Health.UP }));
  }
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
  const domains = spec.map(([domain, pool, answers, strategy, fallback, allDown]) => makeDomain(domain, { pool, answers, strategy, fallback, allDown }));
  return { nodes, weights, domains };
}

/** The routing table of {@link createBenchFleet}. */
export function createBenchTable(seed: number): RoutingTable {
  return buildRoutingTable({ ...createBenchFleet(seed), configVersion: 1n, weightsVersion: 1n });
}

/**
 * `count` dotted-quad addresses, 85 % located in CN, 10 % elsewhere, 5 % unlocated by `db`.
 * Random u32 addresses are looked up and kept while their class still has room: uniform over
 * the address space, CN-heavy by rejection.
 */
export function drawClientIps(db: GeoIpDatabase, count: number, seed: number): string[] {
  const rng = createRng(seed);
  const room = { cn: Math.round(count * 0.85), overseas: Math.round(count * 0.1), unknown: 0 };
  room.unknown = count - room.cn - room.overseas;
  const out: string[] = [];
  // A bound, not an expectation: CN holds ~8 % of the IPv4 space, so ~10 draws per kept address.
  for (let draws = 0; out.length < count && draws < count * 1000; draws++) {
    const ip = nextU32(rng);
    const country = db.location(db.lookupV4(ip)).country;
    const kind = country === 'CN' ? 'cn' : country === '' ? 'unknown' : 'overseas';
    if (room[kind] === 0) continue;
    room[kind]--;
    out.push(formatIpv4(ip));
  }
  if (out.length < count) throw new Error(`the IP database gave only ${out.length} of ${count} addresses in the CN-heavy mix`);
  return out;
}

/** `count` queries over `ips` and `domains`, query ids from 1. */
export function createQueries(ips: readonly string[], domains: readonly string[], count: number, seed: number): ResolveRequest[] {
  const rng = createRng(seed);
  const queries: ResolveRequest[] = [];
  for (let i = 0; i < count; i++) {
    const ip = ips[nextU32(rng) % ips.length]!;
    const ecs = nextUniform(rng) < 0.1;
    queries.push(
      create(ResolveRequestSchema, {
        queryId: BigInt(i + 1),
        clientIp: ecs ? PUBLIC_RESOLVERS[i % PUBLIC_RESOLVERS.length]! : ip,
        ecsSubnet: ecs ? `${ip.slice(0, ip.lastIndexOf('.'))}.0/24` : '',
        domain: domains[nextU32(rng) % domains.length]!,
      }),
    );
  }
  return queries;
}

/**
 * The serving benchmarks' queries (the gRPC, in-process, workers and paced-load benches share them):
 * 32,000 queries over 16,384 client addresses drawn from `db` by {@link drawClientIps} with `seed`,
 * on the 10 domains of {@link createBenchFleet}, query ids from 1; `compact` asks for the compact
 * response in every one.
 */
export function createServingQueries(db: GeoIpDatabase, seed: number, compact = false): ResolveRequest[] {
  const ips = drawClientIps(db, 16_384, seed);
  const domains = createBenchFleet(seed, 10).domains.map((d) => d.domain);
  const queries = createQueries(ips, domains, 32_000, seed + 1);
  if (compact) for (const q of queries) q.compact = true;
  return queries;
}

/** `ResolveStreamRequest` bytes of consecutive slices of `batchSize` queries (as many as fit). */
export function encodeBatches(queries: readonly ResolveRequest[], batchSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let from = 0; from + batchSize <= queries.length; from += batchSize) {
    out.push(toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: queries.slice(from, from + batchSize) })));
  }
  return out;
}

/** `ResolveRequest` bytes of each query (the unary calls). */
export const encodeUnary = (queries: readonly ResolveRequest[]): Uint8Array[] => queries.map((q) => toBinary(ResolveRequestSchema, q));
