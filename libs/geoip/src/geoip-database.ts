import { parseClientAddress, type ClientAddress } from './client-address.js';
import type { Ipv4RangeIndex } from './ipv4-range-index.js';
import { ipv4FromMapped, isIpv4Mapped } from './ipv6.js';
import type { GeoIpResult, GeoLocation, LocationTable } from './location-table.js';

/** Which loader built a database. */
export type GeoIpFormat = 'ip2region-text' | 'ip2region-xdb' | 'mmdb';

/** Size figures of a loaded database. */
export interface GeoIpDatabaseStats {
  /** Ranges in the source file (lines of a text file, segment entries of an xdb); 0 for mmdb. */
  readonly sourceRangeCount: number;
  /** Ranges kept in the IPv4 index after merging neighbours with equal locations; 0 for mmdb. */
  readonly indexedRangeCount: number;
  /** Distinct locations known so far (for mmdb: those met by lookups so far). */
  readonly locationCount: number;
  /** Bytes of the IPv4 index's typed arrays plus the location table's estimate; for mmdb, the file. */
  readonly byteLength: number;
}

/**
 * A loaded, immutable IP → location database. The `lookupV4`/`lookupV6`, `prefixLen*` and
 * `location` methods are the resolver's hot path: they allocate nothing (an mmdb database allocates
 * only the first time it meets a data record, to intern its location).
 */
export interface GeoIpDatabase {
  /** File (or name) it was loaded from. */
  readonly source: string;
  /** Loader that built it. */
  readonly format: GeoIpFormat;
  /** Size figures. */
  stats(): GeoIpDatabaseStats;
  /**
   * Location id of an IPv4 address (u32), `-1` when unknown. The address is read as a u32
   * (`ip >>> 0`), so check `parseIpv4`'s `-1` ("not an address") before calling: passed
   * through, it would be looked up as 255.255.255.255.
   */
  lookupV4(ip: number): number;
  /** Prefix length (0–32) of the largest CIDR block around `ip` that has the same answer. */
  prefixLenV4(ip: number): number;
  /**
   * Location id of an IPv6 address (16 bytes), `-1` when unknown. IPv4-mapped addresses
   * (`::ffff:a.b.c.d`) are looked up as IPv4 by every database.
   */
  lookupV6(addr: Uint8Array): number;
  /** Prefix length (0–128) of the largest CIDR block around `addr` that has the same answer. */
  prefixLenV6(addr: Uint8Array): number;
  /** The interned, frozen location of `id`; the all-empty location for `-1`. */
  location(id: number): GeoLocation;
  /** Location id of a parsed client address (either family). */
  lookupAddress(addr: ClientAddress): number;
  /** Prefix length of the answer block for a parsed client address (its family's bits). */
  prefixLenOf(addr: ClientAddress): number;
  /**
   * Convenience lookup from text, allocating a result. IPv4-mapped IPv6 text is answered as IPv4,
   * so its `prefixLen` counts IPv4 bits (see {@link ClientAddress}).
   *
   * @throws GeoIpError `EGEOIP_ADDRESS` when `address` is not an IPv4 or IPv6 address.
   */
  lookup(address: string): GeoIpResult;
}

/**
 * Prefix length of the largest block around a non-mapped IPv6 address that stays clear of
 * `::ffff:0:0/96`, i.e. one bit past the first bit where it leaves that prefix: an IPv4-only
 * database gives the same (empty) answer everywhere outside it.
 */
export function prefixLenOutsideMapped(addr: Uint8Array): number {
  for (let i = 0; i < 12; i++) {
    const diff = addr[i]! ^ (i < 10 ? 0 : 0xff);
    if (diff !== 0) return i * 8 + (Math.clz32(diff) - 24) + 1;
  }
  return 96;
}

/** What {@link createRangeDatabase} wraps. */
export interface RangeDatabaseParts {
  /** File (or name) the ranges came from. */
  readonly source: string;
  /** Loader that read them. */
  readonly format: GeoIpFormat;
  /** The built IPv4 index; its ids refer to `locations`. */
  readonly index: Ipv4RangeIndex;
  /** The locations; sealed by {@link createRangeDatabase}. */
  readonly locations: LocationTable;
  /** Ranges in the source before merging, for {@link GeoIpDatabaseStats}. */
  readonly sourceRangeCount: number;
}

/**
 * Shared by both database kinds: the address-level helpers (`lookupAddress`, `prefixLenOf`,
 * `lookup`) written once on top of the hot-path methods each kind implements.
 */
export abstract class BaseGeoIpDatabase implements GeoIpDatabase {
  abstract readonly source: string;
  abstract readonly format: GeoIpFormat;
  abstract stats(): GeoIpDatabaseStats;
  abstract lookupV4(ip: number): number;
  abstract prefixLenV4(ip: number): number;
  abstract lookupV6(addr: Uint8Array): number;
  abstract prefixLenV6(addr: Uint8Array): number;
  abstract location(id: number): GeoLocation;

  lookupAddress(addr: ClientAddress): number {
    return addr.family === 4 ? this.lookupV4(addr.v4) : this.lookupV6(addr.v6!);
  }

  prefixLenOf(addr: ClientAddress): number {
    return addr.family === 4 ? this.prefixLenV4(addr.v4) : this.prefixLenV6(addr.v6!);
  }

  lookup(address: string): GeoIpResult {
    const addr = parseClientAddress(address, 'address');
    const { country, region, isp } = this.location(this.lookupAddress(addr));
    return { country, region, isp, prefixLen: this.prefixLenOf(addr) };
  }
}

class RangeDatabase extends BaseGeoIpDatabase {
  readonly source: string;
  readonly format: GeoIpFormat;
  private readonly index: Ipv4RangeIndex;
  private readonly locations: LocationTable;
  private readonly sourceRangeCount: number;

  constructor(parts: RangeDatabaseParts) {
    super();
    this.source = parts.source;
    this.format = parts.format;
    this.index = parts.index;
    this.locations = parts.locations;
    this.sourceRangeCount = parts.sourceRangeCount;
  }

  stats(): GeoIpDatabaseStats {
    return {
      sourceRangeCount: this.sourceRangeCount,
      indexedRangeCount: this.index.rangeCount,
      locationCount: this.locations.size,
      byteLength: this.index.byteLength + this.locations.estimatedBytes(),
    };
  }

  lookupV4(ip: number): number {
    return this.index.lookup(ip);
  }

  prefixLenV4(ip: number): number {
    return this.index.prefixLen(ip);
  }

  lookupV6(addr: Uint8Array): number {
    return isIpv4Mapped(addr) ? this.index.lookup(ipv4FromMapped(addr)) : -1;
  }

  prefixLenV6(addr: Uint8Array): number {
    return isIpv4Mapped(addr) ? 96 + this.index.prefixLen(ipv4FromMapped(addr)) : prefixLenOutsideMapped(addr);
  }

  location(id: number): GeoLocation {
    return this.locations.get(id);
  }
}

/** Wraps an IPv4 range index and its location table (the ip2region loaders' output). */
export function createRangeDatabase(parts: RangeDatabaseParts): GeoIpDatabase {
  parts.locations.seal();
  return new RangeDatabase(parts);
}
