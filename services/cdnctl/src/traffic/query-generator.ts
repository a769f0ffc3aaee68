import { formatIpv4 } from '@cdn-sched/geoip';
import { buildAddressStrata, OTHER_HOME_GROUP, type AddressDatabase, type AddressGroup, type AddressStrata } from './address-strata.js';
import type { Query } from './query-log.js';
import { createRandom } from './random.js';

/** The local mesh's demo domains (see `npm start`). */
export const DEFAULT_DOMAINS: readonly string[] = ['music.demo.example', 'video.demo.example'];

/**
 * Share of home-country queries per ISP; the rest (10 %) goes to the other home ISPs and to
 * unattributed ranges. Round figures, not a measurement: the three carriers serve about 90 % of
 * Chinese users, China Mobile the most subscribers (mostly mobile, behind carrier-grade NAT on
 * few addresses) and China Telecom the most addresses, so address counts alone would over-weight
 * Telecom and under-weight Mobile. Pass `ispShares` for another audience.
 */
export const DEFAULT_ISP_SHARES: Readonly<Record<string, number>> = { cm: 0.35, ct: 0.3, cu: 0.25 };

/** Options of {@link createQueryGenerator}. */
export interface QueryGeneratorOptions {
  /** Where client addresses are drawn from: a loaded geoip database, or strata built from one. */
  readonly database?: AddressDatabase;
  /** Prebuilt strata (several generators over one database build them once). */
  readonly strata?: AddressStrata;
  /** Seed of the generator (number or text). Defaults to 1: the same log every run. */
  readonly seed?: number | string;
  /** Domains asked for, each equally often. Defaults to {@link DEFAULT_DOMAINS}. */
  readonly domains?: readonly string[];
  /** Share of queries from outside the home country, 0–1. Defaults to 0.1. */
  readonly overseasShare?: number;
  /** Share of home-country queries per ISP code, summing to ≤ 1. Defaults to {@link DEFAULT_ISP_SHARES}. */
  readonly ispShares?: Readonly<Record<string, number>>;
  /** ISO 3166-1 alpha-2 code of the home country. Defaults to `CN`. */
  readonly homeCountry?: string;
}

/** A seeded source of realistic queries. */
export interface QueryGenerator {
  /** Share of queries each address group gets (groups without addresses get none). */
  readonly shares: ReadonlyMap<string, number>;
  next(): Query;
  /** The next `count` queries. */
  take(count: number): Query[];
}

function checkShare(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0 || v > 1) throw new RangeError(`${name} must be between 0 and 1, got ${v}`);
}

/** Effective share per group: the configured shares, with those of empty groups spread over the rest. */
function groupShares(strata: AddressStrata, overseasShare: number, ispShares: Readonly<Record<string, number>>): Map<AddressGroup, number> {
  const raw = new Map<AddressGroup, number>();
  let ispSum = 0;
  for (const [isp, share] of Object.entries(ispShares)) {
    checkShare(`share of ISP ${isp}`, share);
    ispSum += share;
  }
  if (ispSum > 1 + 1e-9) throw new RangeError(`ISP shares sum to ${ispSum}, more than 1`);
  for (const [name, group] of strata.home) {
    const share = name === OTHER_HOME_GROUP ? Math.max(0, 1 - ispSum) : (ispShares[name] ?? 0);
    raw.set(group, (1 - overseasShare) * share);
  }
  raw.set(strata.overseas, overseasShare);
  let total = 0;
  for (const [g, w] of raw) if (g.addressCount > 0) total += w;
  if (total <= 0) throw new RangeError('the geoip database has no located addresses for the shares asked for');
  const shares = new Map<AddressGroup, number>();
  for (const [g, w] of raw) if (g.addressCount > 0 && w > 0) shares.set(g, w / total);
  return shares;
}

/**
 * Creates a generator of queries whose clients look like a Chinese CDN's audience: mostly home
 * addresses, split by ISP per `ispShares` and spread over provinces as the ISPs' address space is,
 * plus `overseasShare` from abroad (spread as the world's located address space is). The same seed
 * and database give the same queries.
 *
 * @throws RangeError when a share is out of range or no group can be drawn from.
 */
export function createQueryGenerator(options: QueryGeneratorOptions): QueryGenerator {
  const overseasShare = options.overseasShare ?? 0.1;
  checkShare('overseas share', overseasShare);
  const domains = options.domains ?? DEFAULT_DOMAINS;
  if (domains.length === 0) throw new RangeError('at least one domain is needed');
  const strata = options.strata ?? (options.database ? buildAddressStrata(options.database, { homeCountry: options.homeCountry, homeIsps: Object.keys(options.ispShares ?? DEFAULT_ISP_SHARES) }) : undefined);
  if (!strata) throw new RangeError('a geoip database or prebuilt strata is needed');
  const shares = groupShares(strata, overseasShare, options.ispShares ?? DEFAULT_ISP_SHARES);
  const groups = [...shares.keys()];
  const cumulative = new Float64Array(groups.length);
  let sum = 0;
  groups.forEach((g, i) => (cumulative[i] = sum += shares.get(g)!));
  const random = createRandom(options.seed ?? 1);

  const next = (): Query => {
    const r = random.next() * sum;
    let i = 0;
    while (i < groups.length - 1 && cumulative[i]! <= r) i++;
    const ip = groups[i]!.pick(random);
    return { clientIp: formatIpv4(ip), ecsSubnet: '', domain: domains[random.int(domains.length)]! };
  };
  return {
    shares: new Map(groups.map((g) => [g.name, shares.get(g)!])),
    next,
    take(count) {
      const out: Query[] = new Array<Query>(count);
      for (let i = 0; i < count; i++) out[i] = next();
      return out;
    },
  };
}
