/**
 * Where a client is, in the codes the node documents use (docs/architecture.md, "Documents").
 * Instances handed out by a database are interned and frozen: compare them by identity or by id.
 */
export interface GeoLocation {
  /** ISO 3166-1 alpha-2 (`CN`); empty when unknown. */
  readonly country: string;
  /** ISO 3166-2 (`CN-GD`); empty when unknown. */
  readonly region: string;
  /** ISP short code (`ct`, `cu`, `cm`, …); empty when unknown. */
  readonly isp: string;
}

/** A location plus the prefix length of the matched block (the EDNS client-subnet scope). */
export interface GeoIpResult extends GeoLocation {
  /** Prefix length of the largest CIDR block around the address with this same answer. */
  readonly prefixLen: number;
}

/** The location of an address the database knows nothing about: every field empty. */
export const UNKNOWN_LOCATION: GeoLocation = Object.freeze({ country: '', region: '', isp: '' });

/**
 * Deduplicated, append-only table of locations; ids are dense from 0. The range index stores only
 * ids, so each distinct (country, region, isp) exists once however many ranges share it.
 */
export interface LocationTable {
  /** Number of distinct locations. */
  readonly size: number;
  /**
   * Id of the location, adding it when new. An all-empty location is not stored: it returns `-1`,
   * the same id as "no data", since the resolver treats both alike.
   */
  intern(country: string, region: string, isp: string): number;
  /** The frozen location of `id`; {@link UNKNOWN_LOCATION} for `-1` or an id out of range. */
  get(id: number): GeoLocation;
  /**
   * Estimated heap bytes of the table as kept after loading (location objects, the id → location
   * array and the distinct strings; V8 with pointer compression). The interning map is not counted:
   * {@link LocationTable.seal} drops it.
   */
  estimatedBytes(): number;
  /** Drops the interning map once loading is over; `intern` of a new location then throws. */
  seal(): void;
}

/** V8 (pointer compression): object header 12 B + 3 in-object fields of 4 B, and 4 B array slot. */
const LOCATION_OBJECT_BYTES = 12 + 3 * 4 + 4;
/** V8 sequential string header, rounded. */
const STRING_HEADER_BYTES = 16;

/** Creates an empty {@link LocationTable}. */
export function createLocationTable(): LocationTable {
  const locations: GeoLocation[] = [];
  let byKey: Map<string, number> | undefined = new Map();

  return {
    get size() {
      return locations.length;
    },
    intern(country, region, isp) {
      if (country === '' && region === '' && isp === '') return -1;
      const key = `${country}|${region}|${isp}`;
      const known = byKey?.get(key);
      if (known !== undefined) return known;
      if (byKey === undefined) throw new Error(`location table is sealed; cannot add ${key}`);
      const id = locations.length;
      locations.push(Object.freeze({ country, region, isp }));
      byKey.set(key, id);
      return id;
    },
    get(id) {
      // Bounds check first: a negative index would take V8's slow named-property path.
      return id >= 0 && id < locations.length ? locations[id]! : UNKNOWN_LOCATION;
    },
    estimatedBytes() {
      const strings = new Set<string>();
      for (const l of locations) strings.add(l.country).add(l.region).add(l.isp);
      let bytes = locations.length * LOCATION_OBJECT_BYTES;
      // Two bytes per code unit: an upper bound (codes are ASCII and stored one byte per char).
      for (const s of strings) bytes += STRING_HEADER_BYTES + 2 * s.length;
      return bytes;
    },
    seal() {
      byKey = undefined;
    },
  };
}
