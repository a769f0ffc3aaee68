import { createRangeDatabase, type GeoIpDatabase } from './geoip-database.js';
import { databaseFormatError } from './geoip-error.js';
import { createIpv4RangeIndexBuilder } from './ipv4-range-index.js';
import { formatIpv4, parseIpv4Slice } from './ipv4.js';
import { createLocationTable } from './location-table.js';
import { IP2REGION_REGION_FIELDS, normalizeIp2RegionLocation } from './normalize-ip2region.js';
import type { ParseStep } from './sliced-parse.js';

/**
 * Parser of ip2region's text source format (`ip.merge.txt`): one range per line,
 * `startIP|endIP|country|region|province|city|ISP`, `0` for unknown, UTF-8.
 *
 * The file must be what ip2region's own maker accepts: sorted, contiguous ranges covering
 * 0.0.0.0–255.255.255.255. Requiring the full cover is also what detects a file cut at a line
 * boundary (a truncated download) instead of silently serving a database without its tail.
 */
export interface Ip2RegionTextParser {
  /** Parses up to `budget` more lines; true once the whole input is parsed. */
  readonly step: ParseStep;
  /** The database; call after `step` returned true. */
  finish(): GeoIpDatabase;
}

/**
 * Lines are decoded as latin1, one char per byte, not as UTF-8: the addresses are ASCII either way,
 * the region text only serves as a map key (latin1 is a lossless byte ↔ char mapping), and latin1
 * decoding is ~8× faster and gives one-byte strings that hash faster. Only the first line with a
 * given region text is decoded as UTF-8, to be normalised.
 */
const UTF8_BOM_AS_LATIN1 = '\u00ef\u00bb\u00bf';

/** Bytes decoded per chunk: large enough to amortise `toString`, small enough to stay cheap. */
const CHUNK_BYTES = 1 << 20;
const NEWLINE = 10;
const FIELD_COUNT = 2 + IP2REGION_REGION_FIELDS;
const MAX_U32 = 0xffffffff;

/** Text decoded as latin1 back to what the UTF-8 bytes say, for error messages. */
function asUtf8(latin1: string): string {
  return Buffer.from(latin1, 'latin1').toString('utf8');
}

function fieldCountProblem(found: number): string {
  return `expected ${FIELD_COUNT} '|'-separated fields (start|end|country|region|province|city|isp), found ${found}`;
}

function countFields(text: string, from: number, to: number): number {
  let fields = 1;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 124) fields++;
  return fields;
}

/**
 * Creates a parser over the (already decompressed) bytes of an ip2region text file.
 *
 * @param source - file name for error messages.
 */
export function createIp2RegionTextParser(data: Uint8Array, source: string): Ip2RegionTextParser {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  // ~60 bytes per line in ip2region files; a close guess avoids most array doubling.
  const builder = createIpv4RangeIndexBuilder({ initialCapacity: Math.ceil(bytes.length / 55) });
  const locations = createLocationTable();
  // Region text (everything after the second '|') → location id: each distinct string is split
  // and normalised once, however many lines repeat it.
  const byRegionText = new Map<string, number>();
  let offset = 0;
  let line = 0;
  let text = '';
  let pos = 0;
  let lastRangeLine = 0;

  const fail = (problem: string): never => {
    throw databaseFormatError(source, problem, line);
  };

  const locationOf = (regionText: string): number => {
    let id = byRegionText.get(regionText);
    if (id === undefined) {
      const region = Buffer.from(regionText, 'latin1');
      const fields = region.toString('utf8').split('|');
      if (fields.length !== IP2REGION_REGION_FIELDS) fail(fieldCountProblem(2 + fields.length));
      const location = normalizeIp2RegionLocation(fields[0]!, fields[2]!, fields[4]!);
      id = locations.intern(location.country, location.region, location.isp);
      // Keyed by a fresh copy: the sliced text would keep its whole 1 MiB chunk alive.
      byRegionText.set(region.toString('latin1'), id);
    }
    return id;
  };

  const nextChunk = (): boolean => {
    if (offset >= bytes.length) return false;
    let end = Math.min(offset + CHUNK_BYTES, bytes.length);
    if (end < bytes.length) {
      const newline = bytes.lastIndexOf(NEWLINE, end - 1);
      if (newline < offset) throw databaseFormatError(source, `line longer than ${CHUNK_BYTES} bytes`, line + 1);
      end = newline + 1;
    }
    text = bytes.toString('latin1', offset, end);
    if (offset === 0 && text.startsWith(UTF8_BOM_AS_LATIN1)) text = text.slice(UTF8_BOM_AS_LATIN1.length);
    offset = end;
    pos = 0;
    return true;
  };

  const parseLine = (from: number, to: number): void => {
    const bar1 = text.indexOf('|', from);
    const bar2 = bar1 < 0 || bar1 >= to ? -1 : text.indexOf('|', bar1 + 1);
    if (bar2 < 0 || bar2 >= to) fail(fieldCountProblem(countFields(text, from, to)));
    const start = parseIpv4Slice(text, from, bar1);
    if (start < 0) fail(`'${asUtf8(text.slice(from, bar1))}' is not an IPv4 address`);
    const end = parseIpv4Slice(text, bar1 + 1, bar2);
    if (end < 0) fail(`'${asUtf8(text.slice(bar1 + 1, bar2))}' is not an IPv4 address`);
    if (start > builder.coveredUpTo + 1) {
      fail(`range ${formatIpv4(start)}-${formatIpv4(end)} leaves a gap after ${builder.coveredUpTo < 0 ? 'the start of the address space' : formatIpv4(builder.coveredUpTo)} (ip2region data must cover the IPv4 space contiguously)`);
    }
    const problem = builder.add(start, end, locationOf(text.slice(bar2 + 1, to)));
    if (problem !== undefined) fail(`range ${formatIpv4(start)}-${formatIpv4(end)}: ${problem}`);
    lastRangeLine = line;
  };

  const step: ParseStep = (budget) => {
    let parsed = 0;
    while (parsed < budget) {
      if (pos >= text.length && !nextChunk()) return true;
      let eol = text.indexOf('\n', pos);
      if (eol < 0) eol = text.length;
      line++;
      let to = eol;
      if (to > pos && text.charCodeAt(to - 1) === 13) to--;
      if (to > pos) {
        parseLine(pos, to);
        parsed++;
      }
      pos = eol + 1;
    }
    return false;
  };

  return {
    step,
    finish() {
      if (builder.addedCount === 0) throw databaseFormatError(source, 'no ranges (empty file?)');
      if (builder.coveredUpTo !== MAX_U32) {
        throw databaseFormatError(
          source,
          `the last range (line ${lastRangeLine}) ends at ${formatIpv4(builder.coveredUpTo)}, not 255.255.255.255: the file looks truncated`,
        );
      }
      byRegionText.clear();
      return createRangeDatabase({
        source,
        format: 'ip2region-text',
        index: builder.build(),
        locations,
        sourceRangeCount: builder.addedCount,
      });
    },
  };
}
