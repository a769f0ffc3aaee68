import { IPv4, newWithBuffer } from 'ip2region.js';
import { describe, expect, it } from 'vitest';
import { GeoIpError } from './geoip-error.js';
import { createIp2RegionXdbParser, looksLikeXdb, XDB_HEADER_BYTES, XDB_SEGMENT_BYTES, XDB_VECTOR_INDEX_BYTES } from './ip2region-xdb-parser.js';
import { parseIpv4 } from './ipv4.js';
import { parseGeoIpDatabase } from './load-geoip-database.js';

type Range = readonly [start: string, end: string, region: string];

interface XdbOptions {
  readonly version?: number;
  readonly ipVersion?: number;
}

/**
 * Writes an xdb file the way ip2region's maker lays it out (header, vector index, deduplicated
 * region strings, segment index split at /16 boundaries), so the parser can be tested on edge
 * cases the shipped file does not have — and the layout is checked by the official searcher.
 */
function buildXdb(ranges: readonly Range[], options: XdbOptions = {}): Buffer {
  const regions = new Map<string, number>();
  const regionBytes: Buffer[] = [];
  let dataOffset = XDB_HEADER_BYTES + XDB_VECTOR_INDEX_BYTES;
  const segments: Array<[number, number, number, number]> = [];
  for (const [startText, endText, region] of ranges) {
    let offset = regions.get(region);
    const bytes = Buffer.from(region, 'utf8');
    if (offset === undefined && bytes.length > 0) {
      offset = dataOffset;
      regions.set(region, offset);
      regionBytes.push(bytes);
      dataOffset += bytes.length;
    }
    let start = parseIpv4(startText);
    const end = parseIpv4(endText);
    while (start <= end) {
      const blockEnd = Math.min(end, Math.floor(start / 65536) * 65536 + 65535);
      segments.push([start, blockEnd, bytes.length, offset ?? 0]);
      start = blockEnd + 1;
    }
  }
  const indexStart = dataOffset;
  const file = Buffer.alloc(indexStart + segments.length * XDB_SEGMENT_BYTES);
  file.writeUInt16LE(options.version ?? 2, 0);
  file.writeUInt16LE(1, 2);
  file.writeUInt32LE(1_709_087_558, 4);
  file.writeUInt32LE(indexStart, 8);
  file.writeUInt32LE(indexStart + (segments.length - 1) * XDB_SEGMENT_BYTES, 12);
  file.writeUInt16LE(options.ipVersion ?? 0, 16);
  Buffer.concat(regionBytes).copy(file, XDB_HEADER_BYTES + XDB_VECTOR_INDEX_BYTES);
  segments.forEach(([start, end, length, offset], i) => {
    const at = indexStart + i * XDB_SEGMENT_BYTES;
    file.writeUInt32LE(start, at);
    file.writeUInt32LE(end, at + 4);
    file.writeUInt16LE(length, at + 8);
    file.writeUInt32LE(offset, at + 10);
    const vector = XDB_HEADER_BYTES + Math.floor(start / 65536) * 8;
    if (file.readUInt32LE(vector) === 0) file.writeUInt32LE(at, vector);
    file.writeUInt32LE(at + XDB_SEGMENT_BYTES, vector + 4);
  });
  return file;
}

const RANGES: readonly Range[] = [
  ['0.0.0.0', '0.255.255.255', '0|0|0|内网IP|内网IP'],
  ['1.0.0.0', '1.0.0.255', '澳大利亚|0|0|0|0'],
  ['1.0.1.0', '1.0.3.255', '中国|0|福建省|福州市|电信'],
  ['1.0.4.0', '1.1.255.255', '中国|0|广东省|广州市|联通'],
  ['1.2.0.0', '1.2.0.255', ''],
  ['1.2.1.0', '255.255.255.255', '美国|0|0|0|Level3'],
];

function errorOf(fn: () => unknown): GeoIpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GeoIpError) return error;
    throw error;
  }
  throw new Error('expected a GeoIpError');
}

describe('ip2region xdb parser', () => {
  const xdb = buildXdb(RANGES);

  it('writes test files the official searcher reads', async () => {
    const searcher = newWithBuffer(IPv4, xdb);
    expect(await searcher.search('1.0.2.3')).toBe('中国|0|福建省|福州市|电信');
    expect(await searcher.search('1.1.200.1')).toBe('中国|0|广东省|广州市|联通');
    expect(await searcher.search('200.1.1.1')).toBe('美国|0|0|0|Level3');
  });

  it('loads ranges and merges the /16 splits back', () => {
    expect(looksLikeXdb(xdb)).toBe(true);
    const db = parseGeoIpDatabase(xdb, 'test.xdb');
    expect(db.format).toBe('ip2region-xdb');
    expect(db.lookup('1.0.2.3')).toEqual({ country: 'CN', region: 'CN-FJ', isp: 'ct', prefixLen: 23 });
    // 1.0.4.0-1.1.255.255 is two xdb entries (split at 1.1.0.0) but one range here.
    expect(db.lookup('1.1.200.1')).toEqual({ country: 'CN', region: 'CN-GD', isp: 'cu', prefixLen: 16 });
    expect(db.lookup('1.0.200.1')).toEqual({ country: 'CN', region: 'CN-GD', isp: 'cu', prefixLen: 17 });
    expect(db.stats().sourceRangeCount).toBeGreaterThan(RANGES.length);
    expect(db.stats().indexedRangeCount).toBe(RANGES.length);
  });

  it('reads an entry with no region data as unknown', () => {
    const db = parseGeoIpDatabase(xdb, 'test.xdb');
    expect(db.lookupV4(parseIpv4('1.2.0.7'))).toBe(-1);
    expect(db.lookup('1.2.0.7')).toEqual({ country: '', region: '', isp: '', prefixLen: 24 });
  });

  it('accepts structure 3.0 holding IPv4, refuses IPv6 and unknown versions', () => {
    expect(parseGeoIpDatabase(buildXdb(RANGES, { version: 3, ipVersion: 4 }), 'v3.xdb').lookup('1.0.0.1').country).toBe('AU');
    expect(errorOf(() => parseGeoIpDatabase(buildXdb(RANGES, { version: 3, ipVersion: 6 }), 'v6.xdb')).message).toBe(
      'v6.xdb: xdb holds IP version 6; only IPv4 xdb files are supported (use a MaxMind .mmdb for IPv6)',
    );
    expect(errorOf(() => parseGeoIpDatabase(buildXdb(RANGES, { version: 1 }), 'v1.xdb')).message).toBe(
      'v1.xdb: unsupported xdb structure version 1 (expected 2 or 3)',
    );
  });

  it('refuses a truncated file', () => {
    const cut = xdb.subarray(0, xdb.length - 5);
    expect(errorOf(() => parseGeoIpDatabase(cut, 'cut.xdb')).message).toBe(
      `cut.xdb: truncated xdb: the segment index ends at byte ${xdb.length} but the file has ${xdb.length - 5} bytes`,
    );
    expect(errorOf(() => parseGeoIpDatabase(xdb.subarray(0, 1000), 'stub.xdb')).message).toBe(
      'stub.xdb: truncated xdb: 1000 bytes, less than the 256-byte header plus the 524288-byte vector index',
    );
  });

  it('refuses a region pointer outside the data section', () => {
    const broken = Buffer.from(xdb);
    const first = broken.readUInt32LE(8);
    broken.writeUInt32LE(first + 100, first + 2 * XDB_SEGMENT_BYTES + 10);
    const error = errorOf(() => parseGeoIpDatabase(broken, 'bad-pointer.xdb'));
    expect(error.code).toBe('EGEOIP_FORMAT');
    expect(error.message).toMatch(/^bad-pointer\.xdb: segment index entry 2 \(byte \d+\): region data \d+\+\d+ lies outside the data section/);
  });

  it('refuses a region without five fields', () => {
    const error = errorOf(() => parseGeoIpDatabase(buildXdb([['0.0.0.0', '255.255.255.255', '中国|广东省']]), 'fields.xdb'));
    expect(error.message).toMatch(/segment index entry 0 .*: region '中国\|广东省' has 2 fields, expected 5/);
  });

  it('refuses gaps and a cover that stops short', () => {
    const gap = buildXdb([RANGES[0]!, ['1.0.0.1', '255.255.255.255', '美国|0|0|0|0']]);
    expect(errorOf(() => parseGeoIpDatabase(gap, 'gap.xdb')).message).toMatch(/range 1\.0\.0\.1-1\.0\.255\.255 leaves a gap after 0\.255\.255\.255/);
    const short = buildXdb(RANGES.slice(0, 3));
    expect(errorOf(() => parseGeoIpDatabase(short, 'short.xdb')).message).toBe('short.xdb: the segment index ends at 1.0.3.255, not 255.255.255.255');
  });

  it('parses in bounded steps', () => {
    const parser = createIp2RegionXdbParser(xdb, 'steps.xdb');
    let steps = 1;
    while (!parser.step(100)) steps++;
    const entries = (xdb.readUInt32LE(12) - xdb.readUInt32LE(8)) / XDB_SEGMENT_BYTES + 1;
    expect(steps).toBe(Math.ceil(entries / 100));
    expect(parser.finish().lookup('1.0.0.1').country).toBe('AU');
  });
});
