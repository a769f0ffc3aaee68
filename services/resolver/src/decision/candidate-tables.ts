import {
  AllDownPolicy,
  Strategy,
  Tier,
  type Domain,
  type Node,
  type NodeWeight,
  type TierCapacity,
} from '@cdn-sched/proto';
import { hashString } from '@cdn-sched/rendezvous';
import { buildCandidateGroup, type CandidateGroup, type LookupCell } from './candidate-group.js';
import { buildLookupNow, needsLookup } from './consistent-lookups.js';
import { buildNodeTable, type NodeTable } from './node-table.js';
import { LOCATION_TIERS, locationId, locationKey } from '@cdn-sched/location';

/** Most answers one decision can return (documents.proto: `answers` is 1-16). */
export const MAX_ANSWERS = 16;

/** Tuning of decisions, fixed per table (changing it is a rebuild). */
export interface RoutingTableOptions {
  /**
   * Healthy capacity share (0..1) a tier needs to be answered from; a tier below it spills to the
   * next tier of the chain. 0 disables spill. Defaults to 0.5.
   */
  spillThreshold?: number;
  /** Floor of a TTL shortened in proportion to the tier's healthy share, seconds. Defaults to 5. */
  minTtlS?: number;
  /** Cap on the TTL of spill, below-threshold and best-effort answers, seconds. Defaults to 10. */
  shortTtlS?: number;
}

export type ResolvedTableOptions = Readonly<Required<RoutingTableOptions>>;

/** The candidates of one pool. */
export interface PoolTable {
  readonly name: string;
  /** Groups per tier, indexed by `Tier`, keyed by `locationId`. */
  readonly tiers: readonly ReadonlyMap<number, CandidateGroup>[];
  /** Every non-maintenance node of the pool by node weight: the `any` tier. */
  readonly all: CandidateGroup;
  /** The same nodes by capacity, drained and DOWN included: the best-effort all-down answer. */
  readonly bestEffort: CandidateGroup;
}

/** A domain's policy, normalised: answers clamped to 1..16, unspecified enums given their default. */
export interface DomainPolicy {
  readonly domain: string;
  readonly pool: PoolTable;
  readonly answers: number;
  readonly ttlS: number;
  /** WEIGHTED (also for UNSPECIFIED) or CONSISTENT. */
  readonly strategy: Strategy;
  /** The fallback chain without UNSPECIFIED entries and repeats. */
  readonly fallback: readonly Tier[];
  /** BEST_EFFORT (also for UNSPECIFIED: gdnsd's "all down = all up") or ERROR. */
  readonly allDown: AllDownPolicy;
}

/**
 * Everything a decision reads, built at once and never changed afterwards: a rebuild produces a
 * new table and the caller swaps its reference, so a decision (synchronous) always sees one whole
 * table, and tables share no mutable state.
 */
export interface RoutingTable {
  /** Config version (etcd revision) the table was built from. */
  readonly configVersion: bigint;
  /** Weight stream version the table was built from; 0 before any weight arrived. */
  readonly weightsVersion: bigint;
  readonly options: ResolvedTableOptions;
  readonly nodes: NodeTable;
  readonly pools: ReadonlyMap<string, PoolTable>;
  readonly domains: readonly DomainPolicy[];
  readonly domainIndex: ReadonlyMap<string, number>;
  /** Location codes seen on nodes, interned for `locationId`; a code no node has maps to nothing. */
  readonly countryIds: ReadonlyMap<string, number>;
  readonly regionIds: ReadonlyMap<string, number>;
  readonly ispIds: ReadonlyMap<string, number>;
  readonly ispStride: number;
  readonly groupCount: number;
  /** hashString(id) per node index: the member hashes of consistent picks. */
  readonly nodeHashes: Uint32Array;
  /** The weight-calculator's capacities by `capacityKey`, as the groups were built with. */
  readonly capacities: ReadonlyMap<string, TierCapacity>;
  /**
   * Groups a CONSISTENT domain can pick from (every group of its chain's tiers in its pool, the
   * pool's `all` and `bestEffort`): the ones that get a lookup table.
   */
  readonly consistentGroups: readonly CandidateGroup[];
}

export interface RoutingTableInput {
  nodes: Iterable<Node>;
  domains: Iterable<Domain>;
  /** Weights received so far; absent or missing a node = cold start (see `buildNodeTable`). */
  weights?: Iterable<NodeWeight>;
  /** The weight-calculator's capacity per (pool, tier, location); absent = computed from nodes. */
  capacities?: Iterable<TierCapacity>;
  configVersion: bigint;
  weightsVersion: bigint;
  options?: RoutingTableOptions;
  /**
   * When the consistent lookup tables are built: 'now' (the default: every group of
   * `consistentGroups` with LOOKUP_MIN_MEMBERS or more gets one before this returns) or 'later'
   * (the caller runs a `createLookupRefresher`, which builds them in the background: small weight
   * groups' at once, larger and best-effort groups' once a consistent pick asks; until a group's
   * table lands, its picks score rendezvous directly).
   */
  lookups?: 'now' | 'later';
  /**
   * The table this one replaces: a group whose members are unchanged keeps its lookup cell (and so
   * its table, which the refresher rebuilds only if the weights moved too far).
   */
  previous?: RoutingTable;
}

/**
 * Precomputes the candidate groups of every pool a domain names, for every (tier, location key)
 * that has at least one non-maintenance node. Domains with duplicate names: the last one wins.
 * Throws RangeError on options out of range (a configuration error worth failing start-up for).
 */
export function buildRoutingTable(input: RoutingTableInput): RoutingTable {
  const options = resolveOptions(input.options ?? {});
  const nodes = buildNodeTable(input.nodes, input.weights ?? []);
  const nodeHashes = Uint32Array.from(nodes.ids, hashString);
  const countryIds = new Map<string, number>();
  const regionIds = new Map<string, number>();
  const ispIds = new Map<string, number>();
  for (const doc of nodes.docs) {
    intern(countryIds, doc.country);
    intern(regionIds, doc.region);
    intern(ispIds, doc.isp);
  }
  const ispStride = Math.max(1, ispIds.size);
  const capacities = new Map<string, TierCapacity>();
  for (const c of input.capacities ?? []) capacities.set(capacityKey(c.pool, c.tier, c.location), c);

  const domainDocs = new Map<string, Domain>();
  for (const d of input.domains) domainDocs.set(d.domain, d);
  const pools = new Map<string, PoolTable>();
  let groupCount = 0;
  const previousCells = input.previous === undefined ? undefined : lookupCellsByMembers(input.previous);
  for (const d of domainDocs.values()) {
    if (pools.has(d.pool)) continue;
    const pool = buildPool(d.pool, { nodes, nodeHashes, countryIds, regionIds, ispIds, ispStride, capacities, previousCells });
    pools.set(d.pool, pool);
    groupCount += pool.tiers.reduce((n, m) => n + m.size, 0);
  }
  const domains = [...domainDocs.values()].map((d) => normalisePolicy(d, pools.get(d.pool)!));
  const consistentGroups = collectConsistentGroups(domains);
  if ((input.lookups ?? 'now') === 'now') {
    for (const g of consistentGroups) if (needsLookup(g, false)) buildLookupNow(g);
  }
  return Object.freeze({
    configVersion: input.configVersion,
    weightsVersion: input.weightsVersion,
    options,
    nodes,
    pools,
    domains,
    domainIndex: new Map(domains.map((d, i) => [d.domain, i])),
    countryIds,
    regionIds,
    ispIds,
    ispStride,
    groupCount,
    nodeHashes,
    capacities,
    consistentGroups,
  });
}

/** The groups CONSISTENT domains pick from, each once. */
export function collectConsistentGroups(domains: readonly DomainPolicy[]): CandidateGroup[] {
  const seen = new Set<CandidateGroup>();
  for (const d of domains) {
    if (d.strategy !== Strategy.CONSISTENT) continue;
    for (const tier of d.fallback) for (const g of d.pool.tiers[tier]!.values()) seen.add(g);
    seen.add(d.pool.all);
    seen.add(d.pool.bestEffort);
  }
  return [...seen];
}

/** Lookup cells of a table's groups by pool, weighting and member ids, for reuse by a rebuild. */
function lookupCellsByMembers(table: RoutingTable): Map<string, LookupCell> {
  const cells = new Map<string, LookupCell>();
  for (const [name, pool] of table.pools) {
    for (const g of [...pool.tiers.flatMap((m) => [...m.values()]), pool.all, pool.bestEffort]) {
      if (g.lookup.table !== null || g.lookup.wanted) cells.set(membersKey(name, g.weighting === 'capacity', g.nodes, table.nodes.ids), g.lookup);
    }
  }
  return cells;
}

function membersKey(pool: string, byCapacity: boolean, nodes: ArrayLike<number>, ids: readonly string[]): string {
  let key = `${pool}\n${byCapacity ? 'c' : 'w'}`;
  for (let i = 0; i < nodes.length; i++) key += `\n${ids[nodes[i]!]}`;
  return key;
}

/** The id of a location code in one of a table's code maps (`countryIds` …); −1 for '' or a code no node has. */
export function codeId(ids: ReadonlyMap<string, number>, code: string): number {
  return code === '' ? -1 : (ids.get(code) ?? -1);
}

/**
 * Index of a domain's policy, or -1. Tries the name as given first (no allocation when the caller
 * already sends the canonical lower-case form without trailing dot, the common case), then the
 * canonical form (resolver.proto: the domain is case-insensitive and may end with a dot).
 */
export function findDomainIndex(table: RoutingTable, domain: string): number {
  const exact = table.domainIndex.get(domain);
  if (exact !== undefined) return exact;
  const canonical = (domain.endsWith('.') ? domain.slice(0, -1) : domain).toLowerCase();
  return canonical === domain ? -1 : (table.domainIndex.get(canonical) ?? -1);
}

interface PoolContext {
  nodes: NodeTable;
  nodeHashes: Uint32Array;
  countryIds: Map<string, number>;
  regionIds: Map<string, number>;
  ispIds: Map<string, number>;
  ispStride: number;
  capacities: Map<string, TierCapacity>;
  previousCells: Map<string, LookupCell> | undefined;
}

function buildPool(name: string, ctx: PoolContext): PoolTable {
  const { nodes } = ctx;
  const members: number[] = [];
  for (let i = 0; i < nodes.count; i++) if (nodes.docs[i]!.pools.includes(name)) members.push(i);

  const tiers: Map<number, CandidateGroup>[] = Array.from({ length: Tier.ANY + 1 }, () => new Map());
  for (const tier of LOCATION_TIERS) {
    const buckets = new Map<number, number[]>();
    for (const n of members) {
      const doc = nodes.docs[n]!;
      const id = locationId(
        tier,
        codeId(ctx.countryIds, doc.country),
        codeId(ctx.regionIds, doc.region),
        codeId(ctx.ispIds, doc.isp),
        ctx.ispStride,
      );
      if (id < 0) continue;
      const bucket = buckets.get(id);
      if (bucket === undefined) buckets.set(id, [n]);
      else bucket.push(n);
    }
    for (const [id, bucket] of buckets) {
      // A bucket exists only where the tier has an id, so the key is defined.
      const key = locationKey(tier, nodes.docs[bucket[0]!]!)!;
      const capacity = ctx.capacities.get(capacityKey(name, tier, key));
      const cell = ctx.previousCells?.get(membersKey(name, false, bucket, nodes.ids));
      tiers[tier]!.set(id, buildCandidateGroup(tier, key, bucket, nodes, ctx.nodeHashes, 'weight', capacity, cell));
    }
  }
  const all =
    tiers[Tier.ANY]!.get(0) ??
    buildCandidateGroup(Tier.ANY, '*', members, nodes, ctx.nodeHashes, 'weight', undefined, ctx.previousCells?.get(membersKey(name, false, members, nodes.ids)));
  const bestEffortCell = ctx.previousCells?.get(membersKey(name, true, members, nodes.ids));
  const bestEffort = buildCandidateGroup(Tier.ANY, '*', members, nodes, ctx.nodeHashes, 'capacity', undefined, bestEffortCell);
  return { name, tiers, all, bestEffort };
}

function normalisePolicy(d: Domain, pool: PoolTable): DomainPolicy {
  const fallback: Tier[] = [];
  for (const t of d.fallback) if (LOCATION_TIERS.includes(t) && !fallback.includes(t)) fallback.push(t);
  return Object.freeze({
    domain: d.domain,
    pool,
    answers: Math.min(MAX_ANSWERS, Math.max(1, d.answers)),
    ttlS: d.ttlS,
    strategy: d.strategy === Strategy.CONSISTENT ? Strategy.CONSISTENT : Strategy.WEIGHTED,
    fallback,
    allDown: d.allDown === AllDownPolicy.ERROR ? AllDownPolicy.ERROR : AllDownPolicy.BEST_EFFORT,
  });
}

function resolveOptions(o: RoutingTableOptions): ResolvedTableOptions {
  const resolved = { spillThreshold: o.spillThreshold ?? 0.5, minTtlS: o.minTtlS ?? 5, shortTtlS: o.shortTtlS ?? 10 };
  if (!(resolved.spillThreshold >= 0 && resolved.spillThreshold <= 1)) {
    throw new RangeError(`spillThreshold must be within 0..1, got ${resolved.spillThreshold}`);
  }
  for (const k of ['minTtlS', 'shortTtlS'] as const) {
    if (!(resolved[k] >= 0) || !Number.isInteger(resolved[k])) {
      throw new RangeError(`${k} must be a whole number of seconds >= 0, got ${resolved[k]}`);
    }
  }
  return Object.freeze(resolved);
}

function intern(ids: Map<string, number>, code: string): void {
  if (code !== '' && !ids.has(code)) ids.set(code, ids.size);
}

export function capacityKey(pool: string, tier: Tier, location: string): string {
  return `${pool}\n${tier}\n${location}`;
}
