import { ecsV4Address, ecsV4PrefixLen, GeoIpError, parseClientAddress, parseEcsSubnet, parseIpv4, subnetKey, subnetKeyV4, type GeoIpDatabase, type GeoLocation } from '@cdn-sched/geoip';
import { hashString, hashU32 } from '@cdn-sched/rendezvous';
import { Status } from 'nice-grpc';
import {
  codeId,
  createDecisionQuery,
  createDecisionResult,
  createRng,
  decide,
  DecisionStatus,
  findDomainIndex,
  MAX_ANSWERS,
  type DecisionResult,
  type RoutingTable,
} from '../decision/index.js';

/** What a decision needs from a request (a ResolveRequest message, or the wire codec's plain object). */
export interface ResolveInput {
  /**
   * The caller's id, echoed in the response. The wire decoder gives a number when it is below 2^53
   * (a BigInt per query was a tenth of the decode's time) and a bigint above; a message built by
   * protobuf-es gives a bigint.
   */
  queryId: bigint | number;
  /** Client address text; empty when the wire decoder already parsed an IPv4 address into `clientIpV4`. */
  clientIp: string;
  /** The client's IPv4 address as a u32, parsed straight from the request bytes (wire codec only; negative or absent: not parsed). */
  clientIpV4?: number;
  ecsSubnet: string;
  /**
   * An IPv4 `ecs_subnet` parsed straight from the request bytes (wire codec only), as
   * `parseEcsSubnetV4Bytes` gives it; `ecsSubnet` is then empty. Negative or absent: not parsed.
   */
  ecsV4Subnet?: number;
  domain: string;
  answers: number;
  /** The caller wants the compact response (no location, tier or reason); absent = false. */
  compact?: boolean;
  /** Set by the wire decoder when this request's bytes are malformed: why, for INVALID_ARGUMENT. */
  invalid?: string;
}

/**
 * The outcome of one request, in a reusable struct: either an error (gRPC code and a message for a
 * person) or the decision with everything a response carries. Renderers (unary message, wire
 * codec) read it; nothing here allocates per request on the IPv4 path except the reason string.
 */
export interface Decided {
  ok: boolean;
  code: number;
  /** Stable kebab-case reason of a failure ("no-healthy-node"), '' when ok: what a client matches. */
  reason: string;
  message: string;
  table: RoutingTable | undefined;
  readonly result: DecisionResult;
  location: GeoLocation;
  /** Prefix length of the matched range: the EDNS client-subnet scope. */
  prefixLen: number;
  degraded: boolean;
}

/** Options of {@link createResolveCore}. */
export interface ResolveCoreOptions {
  /** The routing table now (undefined before the first config). */
  table: () => RoutingTable | undefined;
  /** The IP database now (hot-reloaded). */
  geo: () => GeoIpDatabase;
  /**
   * Upstream state is stale: every answer is marked degraded. It reads the clock (one `Date.now()`
   * per upstream stream), so a batch reads it once for all its decisions (see `resolve`).
   */
  stale: () => boolean;
  /** Seed of the weighted strategy's random source. Defaults to the process id. */
  seed?: number;
}

export interface ResolveCore {
  /**
   * Decides `input` into the core's reusable `Decided` (valid until the next call). `stale` is the
   * upstream staleness to mark the answer with, read by the caller once for a whole batch
   * (`upstreamStale()`); a single decision leaves it out and the core reads it. Read per decision,
   * the two streams' clocks (a `Date.now()` of ~50 ns each here) were 12 % of a real resolver's
   * busy samples at B = 100 (CPU profile of `serving-workers`, docs/benchmarks.md); a batch is
   * decided within a millisecond, and staleness is a bound of seconds (MAX_STALENESS_MS).
   */
  resolve(input: ResolveInput, stale?: boolean): Decided;
  /** The `stale` option now: whether answers decided now are degraded by stale upstream state. */
  upstreamStale(): boolean;
}

const UNKNOWN: GeoLocation = Object.freeze({ country: '', region: '', isp: '' });

export function createResolveCore(options: ResolveCoreOptions): ResolveCore {
  const query = createDecisionQuery(createRng(options.seed ?? process.pid));
  const out: Decided = { ok: false, code: 0, reason: '', message: '', table: undefined, result: createDecisionResult(), location: UNKNOWN, prefixLen: 0, degraded: false };
  const fail = (code: number, reason: string, message: string): Decided => {
    out.ok = false;
    out.code = code;
    out.reason = reason;
    out.message = message;
    return out;
  };

  /**
   * Per location id of `codesDb`, its country, region and ISP ids in `codesTable` (`codeId`), three
   * entries a location, −2 until first asked for: a decision then reads one small typed array
   * instead of looking three strings up in the table's maps (each a read of a location object and
   * its strings, scattered in the heap). Cleared when the table or the database changes (a new
   * table comes with every weight version: ~2.5 k locations of the shipped data are looked up again).
   */
  let codes = new Int32Array(0);
  let codesTable: RoutingTable | undefined;
  let codesDb: GeoIpDatabase | undefined;
  /** Sets out.location, and gives `query` the code ids in `table`, of location `id` of `db`. */
  const place = (table: RoutingTable, db: GeoIpDatabase, id: number): void => {
    out.location = db.location(id);
    query.codesOf = table;
    if (id < 0) {
      query.countryId = query.regionId = query.ispId = -1;
      return;
    }
    if (table !== codesTable || db !== codesDb) {
      codesTable = table;
      codesDb = db;
      codes.fill(-2);
    }
    const at = 3 * id;
    if (at >= codes.length) {
      // Grown to the ids met, doubling (an mmdb database interns its locations as lookups meet them).
      const grown = new Int32Array(Math.max(2 * codes.length, at + 3)).fill(-2);
      grown.set(codes);
      codes = grown;
    }
    if (codes[at] === -2) {
      const loc = db.location(id);
      codes[at] = codeId(table.countryIds, loc.country);
      codes[at + 1] = codeId(table.regionIds, loc.region);
      codes[at + 2] = codeId(table.ispIds, loc.isp);
    }
    query.countryId = codes[at]!;
    query.regionId = codes[at + 1]!;
    query.ispId = codes[at + 2]!;
  };

  /**
   * The UNAVAILABLE message of each domain of the current table, made the first time a query of the
   * domain finds no healthy node. A pool that is down answers every query of its domains with it,
   * and built per query it was most of what such a query allocated.
   */
  let unavailable: string[] = [];
  let unavailableTable: RoutingTable | undefined;
  const unavailableMessage = (table: RoutingTable, domainIndex: number): string => {
    if (table !== unavailableTable) {
      unavailableTable = table;
      unavailable = new Array<string>(table.domains.length);
    }
    const policy = table.domains[domainIndex]!;
    return (unavailable[domainIndex] ??= `no healthy node of pool '${policy.pool.name}' for this client, and the policy of ${policy.domain} says error when all are down`);
  };

  /** Places the client (`place`), sets out.prefixLen and query.clientKeyHash; returns an error message or ''. */
  const locate = (table: RoutingTable, db: GeoIpDatabase, input: ResolveInput): string => {
    try {
      // Fast path, without allocating: an IPv4 ECS subnet or a plain IPv4 address that the wire
      // codec parsed from the request bytes, or a plain IPv4 address as text.
      const subnet = input.ecsV4Subnet ?? -1;
      let v4 = -1;
      let sourcePrefixLen = 32;
      if (subnet >= 0) {
        v4 = ecsV4Address(subnet);
        sourcePrefixLen = ecsV4PrefixLen(subnet);
      } else if (input.ecsSubnet === '') {
        const parsed = input.clientIpV4 ?? -1;
        v4 = parsed >= 0 ? parsed : parseIpv4(input.clientIp);
        if (v4 < 0 && input.clientIp === '') return 'client_ip or ecs_subnet is required';
      }
      if (v4 >= 0) {
        place(table, db, db.lookupV4(v4));
        out.prefixLen = db.prefixLenV4(v4);
        query.clientKeyHash = hashU32(subnetKeyV4(v4, sourcePrefixLen));
        return '';
      }
      // ECS wins over the client address (RFC 7871: the subnet is the client's, the address the resolver's).
      const addr = input.ecsSubnet !== '' ? parseEcsSubnet(input.ecsSubnet) : parseClientAddress(input.clientIp);
      place(table, db, db.lookupAddress(addr));
      out.prefixLen = db.prefixLenOf(addr);
      query.clientKeyHash = addr.family === 4 ? hashU32(subnetKeyV4(addr.v4, addr.prefixLen)) : hashString(subnetKey(addr));
      return '';
    } catch (error) {
      if (error instanceof GeoIpError) return error.message;
      throw error;
    }
  };

  return {
    upstreamStale: options.stale,
    resolve(input, stale) {
      const table = options.table();
      out.table = table;
      if (!table) return fail(Status.UNAVAILABLE, 'no-routing-state', 'no routing state yet: the resolver has not received its configuration');
      if (input.domain === '') return fail(Status.INVALID_ARGUMENT, 'domain-required', 'domain: required');
      if (input.answers > MAX_ANSWERS) return fail(Status.INVALID_ARGUMENT, 'too-many-answers', `answers: at most ${MAX_ANSWERS} per decision, got ${input.answers}`);
      const domainIndex = findDomainIndex(table, input.domain);
      if (domainIndex < 0) return fail(Status.NOT_FOUND, 'unknown-domain', `domain '${input.domain.length > 253 ? `${input.domain.slice(0, 64)}…` : input.domain}' has no routing policy`);
      const problem = locate(table, options.geo(), input);
      if (problem !== '') return fail(Status.INVALID_ARGUMENT, 'invalid-client-address', problem);
      query.domainIndex = domainIndex;
      query.location = out.location;
      query.answers = input.answers;
      decide(table, query, out.result);
      if (out.result.status === DecisionStatus.UNAVAILABLE) {
        return fail(Status.UNAVAILABLE, 'no-healthy-node', unavailableMessage(table, domainIndex));
      }
      out.ok = true;
      out.code = 0;
      out.reason = '';
      out.message = '';
      out.degraded = out.result.degraded || (stale ?? options.stale());
      return out;
    },
  };
}
