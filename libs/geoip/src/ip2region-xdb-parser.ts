import { createRangeDatabase, type GeoIpDatabase } from './geoip-database.js';
import { databaseFormatError } from './geoip-error.js';
import { createIpv4RangeIndexBuilder } from './ipv4-range-index.js';
import { formatIpv4 } from './ipv4.js';
import { createLocationTable } from './location-table.js';
import { IP2REGION_REGION_FIELDS, normalizeIp2RegionLocation } from './normalize-ip2region.js';
import type { ParseStep } from './sliced-parse.js';

/**
 * Parser of ip2region's binary `xdb` format (structure 2.0, and 3.0 files that hold IPv4),
 * read from the layout the maker writes:
 *
 * - header, 256 bytes: structure version u16 LE @0, index policy u16 @2, creation time u32 @4,
 *   first and last segment-index entry offsets u32 @8 and @12, IP version u16 @16 (3.0 only);
 * - vector index, 256×256 entries of 8 bytes (first/last entry offset per /16) — not needed here,
 *   since the range index builds its own /16 buckets;
 * - region strings (UTF-8, `country|region|province|city|ISP`, deduplicated: one copy per string);
 * - segment index: 14-byte entries, start IP u32 LE, end IP u32 LE, region length u16 LE, region
 *   offset u32 LE, sorted and contiguous over the whole IPv4 space.
 *
 * The maker splits ranges at /16 boundaries; the range index merges them back.
 */
export interface Ip2RegionXdbParser {
  /** Parses up to `budget` more segment-index entries; true once all are parsed. */
  readonly step: ParseStep;
  /** The database; call after `step` returned true. */
  finish(): GeoIpDatabase;
}

/** Size of the xdb header. */
export const XDB_HEADER_BYTES = 256;
/** Size of the xdb vector index: 256 × 256 entries of two u32 offsets. */
export const XDB_VECTOR_INDEX_BYTES = 256 * 256 * 8;
/** Size of an IPv4 segment-index entry: start u32, end u32, data length u16, data offset u32. */
export const XDB_SEGMENT_BYTES = 14;

const MAX_U32 = 0xffffffff;
const DATA_START = XDB_HEADER_BYTES + XDB_VECTOR_INDEX_BYTES;

/** True when `data` begins like an xdb file (plausible structure version and index offsets). */
export function looksLikeXdb(data: Uint8Array): boolean {
  if (data.length < DATA_START) return false;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const version = view.getUint16(0, true);
  const first = view.getUint32(8, true);
  const last = view.getUint32(12, true);
  return (version === 2 || version === 3) && first >= DATA_START && last >= first && (last - first) % XDB_SEGMENT_BYTES === 0;
}

function readHeader(bytes: Buffer, source: string): { first: number; last: number } {
  if (bytes.length < DATA_START) {
    throw databaseFormatError(
      source,
      `truncated xdb: ${bytes.length} bytes, less than the ${XDB_HEADER_BYTES}-byte header plus the ${XDB_VECTOR_INDEX_BYTES}-byte vector index`,
    );
  }
  const version = bytes.readUInt16LE(0);
  if (version !== 2 && version !== 3) throw databaseFormatError(source, `unsupported xdb structure version ${version} (expected 2 or 3)`);
  if (version === 3 && bytes.readUInt16LE(16) !== 4) {
    throw databaseFormatError(source, `xdb holds IP version ${bytes.readUInt16LE(16)}; only IPv4 xdb files are supported (use a MaxMind .mmdb for IPv6)`);
  }
  const first = bytes.readUInt32LE(8);
  const last = bytes.readUInt32LE(12);
  if (first < DATA_START || last < first || (last - first) % XDB_SEGMENT_BYTES !== 0) {
    throw databaseFormatError(source, `corrupt xdb header: segment index offsets ${first}..${last} are not a whole number of ${XDB_SEGMENT_BYTES}-byte entries after the vector index`);
  }
  if (last + XDB_SEGMENT_BYTES > bytes.length) {
    throw databaseFormatError(source, `truncated xdb: the segment index ends at byte ${last + XDB_SEGMENT_BYTES} but the file has ${bytes.length} bytes`);
  }
  return { first, last };
}

/**
 * Creates a parser over the bytes of an ip2region xdb file. The header is checked at once.
 *
 * @param source - file name for error messages.
 * @throws GeoIpError `EGEOIP_FORMAT` when the header is invalid or the file is truncated.
 */
export function createIp2RegionXdbParser(data: Uint8Array, source: string): Ip2RegionXdbParser {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const { first, last } = readHeader(bytes, source);
  const entryCount = (last - first) / XDB_SEGMENT_BYTES + 1;
  const builder = createIpv4RangeIndexBuilder({ initialCapacity: Math.ceil(entryCount * 0.75) });
  const locations = createLocationTable();
  // Region offset → location id: the maker stores each distinct region string once.
  const byDataOffset = new Map<number, number>();
  let entry = 0;

  const fail = (problem: string): never => {
    throw databaseFormatError(source, `segment index entry ${entry} (byte ${first + entry * XDB_SEGMENT_BYTES}): ${problem}`);
  };

  const locationAt = (dataOffset: number, dataLength: number): number => {
    if (dataLength === 0) return -1;
    let id = byDataOffset.get(dataOffset);
    if (id !== undefined) return id;
    if (dataOffset < DATA_START || dataOffset + dataLength > first) {
      fail(`region data ${dataOffset}+${dataLength} lies outside the data section ${DATA_START}..${first}`);
    }
    const fields = bytes.toString('utf8', dataOffset, dataOffset + dataLength).split('|');
    if (fields.length !== IP2REGION_REGION_FIELDS) {
      fail(`region '${fields.join('|')}' has ${fields.length} fields, expected ${IP2REGION_REGION_FIELDS}`);
    }
    const location = normalizeIp2RegionLocation(fields[0]!, fields[2]!, fields[4]!);
    id = locations.intern(location.country, location.region, location.isp);
    byDataOffset.set(dataOffset, id);
    return id;
  };

  const step: ParseStep = (budget) => {
    const stop = Math.min(entryCount, entry + budget);
    for (; entry < stop; entry++) {
      const at = first + entry * XDB_SEGMENT_BYTES;
      const start = bytes.readUInt32LE(at);
      const end = bytes.readUInt32LE(at + 4);
      if (start > builder.coveredUpTo + 1) {
        fail(`range ${formatIpv4(start)}-${formatIpv4(end)} leaves a gap after ${builder.coveredUpTo < 0 ? 'the start of the address space' : formatIpv4(builder.coveredUpTo)}`);
      }
      const problem = builder.add(start, end, locationAt(bytes.readUInt32LE(at + 10), bytes.readUInt16LE(at + 8)));
      if (problem !== undefined) fail(`range ${formatIpv4(start)}-${formatIpv4(end)}: ${problem}`);
    }
    return entry >= entryCount;
  };

  return {
    step,
    finish() {
      if (builder.coveredUpTo !== MAX_U32) {
        throw databaseFormatError(source, `the segment index ends at ${formatIpv4(builder.coveredUpTo)}, not 255.255.255.255`);
      }
      return createRangeDatabase({
        source,
        format: 'ip2region-xdb',
        index: builder.build(),
        locations,
        sourceRangeCount: builder.addedCount,
      });
    },
  };
}
