import type { GeoIpDatabase } from '@cdn-sched/geoip';
import type { Random } from './random.js';

/** The part of a geoip database the strata are built from (all allocation-free lookups). */
export type AddressDatabase = Pick<GeoIpDatabase, 'lookupV4' | 'prefixLenV4' | 'location'>;

/** The IPv4 addresses of one kind of client (one ISP at home, or everything abroad). */
export interface AddressGroup {
  readonly name: string;
  /** Addresses in the group. */
  readonly addressCount: number;
  /** CIDR blocks the group is made of. */
  readonly blockCount: number;
  /** A uniformly random address of the group (u32). */
  pick(random: Random): number;
}

/** The IPv4 space split by who the clients are; located addresses only. */
export interface AddressStrata {
  /** Home-country addresses by group name: each ISP of `homeIsps`, and `other` for the rest. */
  readonly home: ReadonlyMap<string, AddressGroup>;
  /** Addresses located in any other country. */
  readonly overseas: AddressGroup;
}

/** Options of {@link buildAddressStrata}. */
export interface AddressStrataOptions {
  /** ISO 3166-1 alpha-2 code of the home country. Defaults to `CN`. */
  readonly homeCountry?: string;
  /** ISP codes given a group of their own at home. Defaults to `ct`, `cu`, `cm`. */
  readonly homeIsps?: readonly string[];
}

/** Name of the home group that gathers the ISPs not listed in `homeIsps` (and unknown ISPs). */
export const OTHER_HOME_GROUP = 'other';

class BlockGroup implements AddressGroup {
  private starts: number[] = [];
  private sizes: number[] = [];
  private cumulative: Float64Array = new Float64Array(0);
  private startArray: Uint32Array = new Uint32Array(0);
  private sizeArray: Float64Array = new Float64Array(0);
  addressCount = 0;

  constructor(readonly name: string) {}

  get blockCount(): number {
    return this.startArray.length;
  }

  add(start: number, size: number): void {
    this.starts.push(start);
    this.sizes.push(size);
    this.addressCount += size;
  }

  seal(): void {
    this.startArray = Uint32Array.from(this.starts);
    this.sizeArray = Float64Array.from(this.sizes);
    this.cumulative = new Float64Array(this.sizes.length);
    let sum = 0;
    for (let i = 0; i < this.sizes.length; i++) this.cumulative[i] = sum += this.sizes[i]!;
    this.starts = [];
    this.sizes = [];
  }

  pick(random: Random): number {
    // Block i holds addresses [cumulative[i-1], cumulative[i]) of the group: one draw picks the
    // block with probability size/total (binary search) and, by its offset, the address in it.
    const target = Math.floor(random.next() * this.addressCount);
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > target) hi = mid;
      else lo = mid + 1;
    }
    const before = this.cumulative[lo]! - this.sizeArray[lo]!;
    return (this.startArray[lo]! + (target - before)) >>> 0;
  }
}

/**
 * Splits the IPv4 space of a geoip database into address groups by location. The database
 * interface has no range enumeration, so this walks the whole space as the CIDR blocks
 * `prefixLenV4` reports (each block has one answer): 271 k blocks on the shipped ip2region data,
 * about 0.2 s, where rejection sampling of random addresses would need ~12 lookups per query to
 * land in China (8 % of the space) and far more for a small ISP.
 */
export function buildAddressStrata(database: AddressDatabase, options: AddressStrataOptions = {}): AddressStrata {
  const homeCountry = options.homeCountry ?? 'CN';
  const homeIsps = options.homeIsps ?? ['ct', 'cu', 'cm'];
  const home = new Map<string, BlockGroup>();
  for (const isp of homeIsps) home.set(isp, new BlockGroup(isp));
  home.set(OTHER_HOME_GROUP, new BlockGroup(OTHER_HOME_GROUP));
  const overseas = new BlockGroup('overseas');
  // Group of each location id, decided once per id (a few thousand ids, 10^5 blocks).
  const byLocation = new Map<number, BlockGroup | null>();
  const groupOf = (id: number): BlockGroup | null => {
    let g = byLocation.get(id);
    if (g !== undefined) return g;
    const loc = database.location(id);
    if (loc.country === '') g = null;
    else if (loc.country !== homeCountry) g = overseas;
    else g = home.get(loc.isp) ?? home.get(OTHER_HOME_GROUP)!;
    byLocation.set(id, g);
    return g;
  };
  let ip = 0;
  while (ip <= 0xffffffff) {
    const size = 2 ** (32 - database.prefixLenV4(ip >>> 0));
    // Blocks are aligned to their size, so `ip` is always the first address of the next one.
    const base = ip - (ip % size);
    const id = database.lookupV4(ip >>> 0);
    if (id >= 0) groupOf(id)?.add(base, size);
    ip = base + size;
  }
  for (const g of home.values()) g.seal();
  overseas.seal();
  return { home, overseas };
}
