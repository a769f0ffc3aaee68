import { Reader, type Response } from 'maxmind';
import { asnIspCode } from './asn-isp-codes.js';
import { BaseGeoIpDatabase, prefixLenOutsideMapped, type GeoIpDatabase, type GeoIpDatabaseStats } from './geoip-database.js';
import { databaseFormatError } from './geoip-error.js';
import { formatIpv4 } from './ipv4.js';
import { formatIpv6Full, ipv4FromMapped, isIpv4Mapped } from './ipv6.js';
import { createLocationTable, type GeoLocation, type LocationTable } from './location-table.js';
import type { ParseStep } from './sliced-parse.js';

/**
 * MaxMind DB (`.mmdb`) support, IPv4 and IPv6.
 *
 * The `maxmind` package's `Reader` parses the metadata and decodes data records. The search tree
 * is walked here (MaxMind DB spec, "Search Tree Section") so that the hot path needs no address
 * string: each data record found is decoded once through the Reader, turned into a location and
 * interned by its record value; later lookups hitting the same record allocate nothing.
 */

/** Marks the start of the metadata section (MaxMind DB spec, "Database Metadata"). */
const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com')]);
/** The metadata must lie within the last 128 KiB of the file. */
const METADATA_MAX_BYTES = 128 * 1024;
/** Sixteen zero bytes between the search tree and the data section. */
const DATA_SEPARATOR_BYTES = 16;

/** The fields of a GeoIP2/GeoLite2 record this library reads. */
interface MmdbRecord {
  readonly country?: { readonly iso_code?: string };
  readonly registered_country?: { readonly iso_code?: string };
  readonly subdivisions?: ReadonlyArray<{ readonly iso_code?: string }>;
  readonly traits?: { readonly autonomous_system_number?: number };
  readonly autonomous_system_number?: number;
}

/** Offset of the metadata marker within the last 128 KiB of `bytes`, or -1. */
function findMetadataMarker(bytes: Buffer): number {
  const from = Math.max(0, bytes.length - METADATA_MAX_BYTES);
  const at = bytes.subarray(from).lastIndexOf(METADATA_MARKER);
  return at < 0 ? -1 : from + at;
}

/** True when `data` carries MaxMind DB metadata. */
export function looksLikeMmdb(data: Uint8Array): boolean {
  return findMetadataMarker(Buffer.from(data.buffer, data.byteOffset, data.byteLength)) >= 0;
}

/**
 * The location of a record: `country` (falling back to `registered_country`), the first (largest)
 * subdivision prefixed with the country (`CN-GD`, as ISO 3166-2 writes it), and the ISP of its
 * ASN when the database has one.
 */
export function mmdbRecordLocation(record: unknown): { country: string; region: string; isp: string } {
  const r = (record ?? {}) as MmdbRecord;
  const country = r.country?.iso_code ?? r.registered_country?.iso_code ?? '';
  const subdivision = r.subdivisions?.[0]?.iso_code;
  const region = country !== '' && subdivision !== undefined && subdivision !== '' ? `${country}-${subdivision}` : '';
  const asn = r.autonomous_system_number ?? r.traits?.autonomous_system_number;
  return { country, region, isp: asn === undefined ? '' : asnIspCode(asn) };
}

class MmdbDatabase extends BaseGeoIpDatabase {
  readonly source: string;
  readonly format = 'mmdb' as const;
  private readonly reader: Reader<Response>;
  private readonly tree: Buffer;
  private readonly nodeCount: number;
  private readonly recordSize: number;
  private readonly nodeBytes: number;
  private readonly ipv6: boolean;
  private readonly ipv4Start: number;
  private readonly locations: LocationTable = createLocationTable();
  /** Tree record value (data pointer) → location id. */
  private readonly byRecord = new Map<number, number>();
  /** Depth reached by the last walk: the prefix length of the record it found. */
  private depth = 0;

  constructor(source: string, bytes: Buffer, reader: Reader<Response>) {
    super();
    this.source = source;
    this.reader = reader;
    this.tree = bytes;
    this.nodeCount = reader.metadata.nodeCount;
    this.recordSize = reader.metadata.recordSize;
    this.nodeBytes = reader.metadata.nodeByteSize;
    this.ipv6 = reader.metadata.ipVersion === 6;
    let node = 0;
    // IPv4 addresses live at ::/96 of an IPv6 tree (MaxMind DB spec, "IPv4 addresses in an
    // IPv6 tree"): follow 96 left branches once, then start IPv4 walks there.
    for (let i = 0; this.ipv6 && i < 96 && node < this.nodeCount; i++) node = this.child(node, 0);
    this.ipv4Start = node;
  }

  /** Record `bit` (0 left, 1 right) of `node`, per the 24/28/32-bit record layouts of the spec. */
  child(node: number, bit: number): number {
    const b = this.tree;
    const o = node * this.nodeBytes;
    switch (this.recordSize) {
      case 24:
        return bit === 0 ? (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]! : (b[o + 3]! << 16) | (b[o + 4]! << 8) | b[o + 5]!;
      case 28:
        return bit === 0
          ? ((b[o + 3]! & 0xf0) << 20) | (b[o]! << 16) | (b[o + 1]! << 8) | b[o + 2]!
          : ((b[o + 3]! & 0x0f) << 24) | (b[o + 4]! << 16) | (b[o + 5]! << 8) | b[o + 6]!;
      default:
        return bit === 0 ? b.readUInt32BE(o) : b.readUInt32BE(o + 4);
    }
  }

  private walkV4(ip: number): number {
    let node = this.ipv4Start;
    let depth = 0;
    while (depth < 32 && node < this.nodeCount) {
      node = this.child(node, (ip >>> (31 - depth)) & 1);
      depth++;
    }
    this.depth = depth;
    return node;
  }

  private walkV6(addr: Uint8Array): number {
    let node = 0;
    let depth = 0;
    while (depth < 128 && node < this.nodeCount) {
      node = this.child(node, (addr[depth >>> 3]! >>> (7 - (depth & 7))) & 1);
      depth++;
    }
    this.depth = depth;
    return node;
  }

  /**
   * Location id of a data record met for the first time: decoded through the Reader (which walks
   * again from `address`, the one allocation of this path), then interned by record value.
   */
  private internRecord(record: number, address: string): number {
    let location = { country: '', region: '', isp: '' };
    try {
      location = mmdbRecordLocation(this.reader.get(address));
    } catch {
      // A record that does not decode is an unknown location, not a crash on the request path.
    }
    const id = this.locations.intern(location.country, location.region, location.isp);
    this.byRecord.set(record, id);
    return id;
  }

  stats(): GeoIpDatabaseStats {
    return { sourceRangeCount: 0, indexedRangeCount: 0, locationCount: this.locations.size, byteLength: this.tree.length };
  }

  lookupV4(ip: number): number {
    const record = this.walkV4(ip >>> 0);
    if (record <= this.nodeCount) return -1;
    return this.byRecord.get(record) ?? this.internRecord(record, formatIpv4(ip >>> 0));
  }

  prefixLenV4(ip: number): number {
    this.walkV4(ip >>> 0);
    return this.depth;
  }

  lookupV6(addr: Uint8Array): number {
    if (isIpv4Mapped(addr)) return this.lookupV4(ipv4FromMapped(addr));
    if (!this.ipv6) return -1;
    const record = this.walkV6(addr);
    if (record <= this.nodeCount) return -1;
    return this.byRecord.get(record) ?? this.internRecord(record, formatIpv6Full(addr));
  }

  prefixLenV6(addr: Uint8Array): number {
    if (isIpv4Mapped(addr)) return 96 + this.prefixLenV4(ipv4FromMapped(addr));
    if (!this.ipv6) return prefixLenOutsideMapped(addr);
    this.walkV6(addr);
    return this.depth;
  }

  location(id: number): GeoLocation {
    return this.locations.get(id);
  }
}

/** Parser of a MaxMind DB file: checks the layout, then every tree record, in steps. */
export interface MmdbParser {
  /** Checks up to `budget` more tree nodes; true once all are checked. */
  readonly step: ParseStep;
  /** The database; call after `step` returned true. */
  finish(): GeoIpDatabase;
}

/**
 * Creates a parser over the bytes of a `.mmdb` file. Metadata and section sizes are checked at
 * once; `step` then checks that every record of the search tree points to a node, to "not
 * found", or inside the data section — a truncated or corrupt tree is refused at load time rather
 * than met by a lookup.
 *
 * @param source - file name for error messages.
 * @throws GeoIpError `EGEOIP_FORMAT` for missing metadata or sections that do not fit the file.
 */
export function createMmdbParser(data: Uint8Array, source: string): MmdbParser {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const marker = findMetadataMarker(bytes);
  if (marker < 0) throw databaseFormatError(source, 'no MaxMind DB metadata marker (not an .mmdb file, or truncated)');
  let reader: Reader<Response>;
  try {
    reader = new Reader<Response>(bytes);
  } catch (error) {
    throw databaseFormatError(source, `invalid MaxMind DB metadata: ${(error as Error).message}`, undefined, error);
  }
  const { nodeCount, recordSize, nodeByteSize, searchTreeSize, ipVersion } = reader.metadata;
  if (recordSize !== 24 && recordSize !== 28 && recordSize !== 32) {
    throw databaseFormatError(source, `unsupported MaxMind DB record size ${recordSize} (expected 24, 28 or 32)`);
  }
  if (ipVersion !== 4 && ipVersion !== 6) throw databaseFormatError(source, `unsupported MaxMind DB ip_version ${ipVersion}`);
  const dataStart = searchTreeSize + DATA_SEPARATOR_BYTES;
  if (nodeCount * nodeByteSize !== searchTreeSize || dataStart > marker) {
    throw databaseFormatError(source, `corrupt MaxMind DB: a ${searchTreeSize}-byte search tree of ${nodeCount} nodes does not fit before the metadata at byte ${marker}`);
  }
  const dataSize = marker - dataStart;
  const database = new MmdbDatabase(source, bytes, reader);
  let node = 0;

  const checkRecord = (record: number): void => {
    if (record > nodeCount && record - nodeCount - DATA_SEPARATOR_BYTES >= dataSize) {
      throw databaseFormatError(source, `corrupt MaxMind DB: node ${node} points to data offset ${record - nodeCount - DATA_SEPARATOR_BYTES}, past the ${dataSize}-byte data section`);
    }
  };

  const step: ParseStep = (budget) => {
    const stop = Math.min(nodeCount, node + budget);
    for (; node < stop; node++) {
      checkRecord(database.child(node, 0));
      checkRecord(database.child(node, 1));
    }
    return node >= nodeCount;
  };

  return { step, finish: () => database };
}
