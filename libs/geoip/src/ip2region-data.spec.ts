import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { IPv4, newWithBuffer, type Searcher } from 'ip2region.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { createSeededU32 } from '@cdn-sched/testing';
import { countryCode } from './country-codes.js';
import type { GeoIpDatabase } from './geoip-database.js';
import { cidrPrefixLenV4, formatIpv4, parseIpv4 } from './ipv4.js';
import { ispCode } from '@cdn-sched/location';
import { defaultDatabasePath, loadGeoIpDatabase, parseGeoIpDatabase } from './load-geoip-database.js';
import { UNKNOWN_LOCATION, type GeoLocation } from './location-table.js';
import { normalizeIp2RegionLocation, normalizeIp2RegionString } from './normalize-ip2region.js';
import { provinceCode } from './province-codes.js';

/**
 * Tests against the real data: the shipped gzipped text, the upstream xdb it was generated from,
 * and the official `ip2region.js` searcher over that xdb. Each database is loaded once for the file.
 */

const XDB_PATH = '/work/shared/data/ip2region/ip2region_v4.xdb';
const SOURCE_LINES = 683_843;

interface Line {
  readonly start: number;
  readonly end: number;
  readonly fields: readonly string[];
}

let text: GeoIpDatabase;
let xdb: GeoIpDatabase;
let searcher: Searcher;
let raw: Buffer;
let lines: Line[];

function same(a: GeoLocation, b: GeoLocation): boolean {
  return a.country === b.country && a.region === b.region && a.isp === b.isp;
}

function show(l: GeoLocation): string {
  return `${l.country}/${l.region}/${l.isp}`;
}

function lineLocation(line: Line): GeoLocation {
  const l = normalizeIp2RegionLocation(line.fields[2]!, line.fields[4]!, line.fields[6]!);
  return l.country === '' && l.region === '' && l.isp === '' ? UNKNOWN_LOCATION : l;
}

/** What the official searcher says, after this library's normalisation. */
async function official(ip: number): Promise<GeoLocation> {
  const region = await searcher.search(formatIpv4(ip));
  return normalizeIp2RegionString(region) ?? UNKNOWN_LOCATION;
}

beforeAll(async () => {
  text = await loadGeoIpDatabase(defaultDatabasePath());
  const xdbBytes = readFileSync(XDB_PATH);
  xdb = parseGeoIpDatabase(xdbBytes, XDB_PATH);
  searcher = newWithBuffer(IPv4, xdbBytes);
  raw = gunzipSync(readFileSync(defaultDatabasePath()));
  lines = raw
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const fields = l.split('|');
      return { start: parseIpv4(fields[0]!), end: parseIpv4(fields[1]!), fields };
    });
});

describe('the shipped database', () => {
  it('is the file PROVENANCE.md describes', () => {
    expect(createHash('sha256').update(raw).digest('hex')).toBe('d6bc7caa75c09050624f693206ac12e29e4333d34448806b8359be56dd8c43a3');
    expect(lines).toHaveLength(SOURCE_LINES);
    expect(text.stats().sourceRangeCount).toBe(SOURCE_LINES);
  });

  it('fits in at most 20 bytes per range, typed arrays and location table counted', () => {
    const { byteLength, indexedRangeCount, locationCount } = text.stats();
    expect(byteLength / SOURCE_LINES).toBeLessThanOrEqual(20);
    expect(indexedRangeCount).toBeLessThan(SOURCE_LINES);
    // Locations are few: ids fit a Uint16Array.
    expect(locationCount).toBeLessThan(65_535);
  });
});

describe('lookups on the real data', () => {
  it('agree with the official ip2region.js searcher on 100,000 random addresses', async () => {
    const next = createSeededU32(20_240_228);
    const mismatches: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const ip = next();
      const want = await official(ip);
      for (const [name, db] of [['text', text], ['xdb', xdb]] as const) {
        const got = db.location(db.lookupV4(ip));
        if (!same(got, want)) mismatches.push(`${name} ${formatIpv4(ip)}: ${show(got)} != ${show(want)}`);
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('answer the first and last address of every range as its line says', () => {
    const mismatches: string[] = [];
    for (const line of lines) {
      const want = lineLocation(line);
      for (const ip of [line.start, line.end]) {
        for (const db of [text, xdb]) {
          const got = db.location(db.lookupV4(ip));
          if (!same(got, want)) mismatches.push(`${db.format} ${formatIpv4(ip)}: ${show(got)} != ${show(want)}`);
        }
      }
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  it('agree with ip2region.js on range boundaries', async () => {
    const mismatches: string[] = [];
    for (let i = 0; i < lines.length; i += 25) {
      for (const ip of [lines[i]!.start, lines[i]!.end]) {
        const want = await official(ip);
        const got = text.location(text.lookupV4(ip));
        if (!same(got, want)) mismatches.push(`${formatIpv4(ip)}: ${show(got)} != ${show(want)}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it('answer the ends of the address space', async () => {
    for (const db of [text, xdb]) {
      expect(db.lookup('0.0.0.0')).toEqual({ country: '', region: '', isp: '', prefixLen: 8 });
      expect(db.lookup('255.255.255.255')).toEqual({ country: '', region: '', isp: '', prefixLen: 3 });
    }
    expect(await official(0)).toEqual(UNKNOWN_LOCATION);
    expect(await official(0xffffffff)).toEqual(UNKNOWN_LOCATION);
  });

  it('know some well-known networks', () => {
    expect(text.lookup('113.118.113.77')).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(text.lookup('61.244.148.166')).toMatchObject({ country: 'HK', region: '' });
    expect(text.lookup('1.34.0.1')).toMatchObject({ country: 'TW', region: '', isp: 'cht' });
    expect(text.lookup('::ffff:113.118.113.77')).toEqual(text.lookup('113.118.113.77'));
    expect(text.lookup('2400:da00::6666')).toEqual({ country: '', region: '', isp: '', prefixLen: 3 });
  });

  it('give text and xdb loaders the same answers and prefix lengths', () => {
    const next = createSeededU32(99);
    const differences: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const ip = next();
      const a = text.location(text.lookupV4(ip));
      const b = xdb.location(xdb.lookupV4(ip));
      if (!same(a, b) || text.prefixLenV4(ip) !== xdb.prefixLenV4(ip)) differences.push(formatIpv4(ip));
    }
    expect(differences.slice(0, 5)).toEqual([]);
    expect(xdb.stats().indexedRangeCount).toBe(text.stats().indexedRangeCount);
    expect(xdb.stats().locationCount).toBe(text.stats().locationCount);
  });

  it('give the prefix length of the largest block inside the merged range', () => {
    // Reference: merge consecutive lines with equal locations, independently of the index.
    const merged: Array<{ start: number; end: number; location: GeoLocation }> = [];
    for (const line of lines) {
      const location = lineLocation(line);
      const last = merged[merged.length - 1];
      if (last !== undefined && same(last.location, location)) last.end = line.end;
      else merged.push({ start: line.start, end: line.end, location });
    }
    expect(text.stats().indexedRangeCount).toBe(merged.length);
    const next = createSeededU32(5);
    const mismatches: string[] = [];
    for (let i = 0; i < 100_000; i++) {
      const ip = next();
      let lo = 0;
      let hi = merged.length - 1;
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (merged[mid]!.start <= ip) lo = mid;
        else hi = mid - 1;
      }
      const want = cidrPrefixLenV4(ip, merged[lo]!.start, merged[lo]!.end);
      if (text.prefixLenV4(ip) !== want) mismatches.push(`${formatIpv4(ip)}: ${text.prefixLenV4(ip)} != ${want}`);
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
  });
});

describe('normalisation tables against the distinct values of the data', () => {
  const NOT_COUNTRIES = ['0', '亚太地区', '北美地区', '欧洲', '非洲地区'];

  it('codes every country the data names', () => {
    const countries = new Set(lines.map((l) => l.fields[2]!));
    const uncoded = [...countries].filter((c) => countryCode(c) === '');
    expect(uncoded.sort()).toEqual([...NOT_COUNTRIES].sort());
    expect(countries.size).toBeGreaterThan(240);
  });

  it('codes every Chinese province the data names, whatever the spelling', () => {
    const provinces = new Set(lines.filter((l) => l.fields[2] === '中国').map((l) => l.fields[4]!));
    expect([...provinces].filter((p) => provinceCode(p) === '')).toEqual(['0']);
    // Both spellings of a province land on one code (辽宁省 and 辽宁, …).
    expect(provinceCode('辽宁')).toBe(provinceCode('辽宁省'));
    const codes = new Set([...provinces].map(provinceCode).filter((c) => c !== ''));
    expect(codes.size).toBe(34);
  });

  it('codes the frequent ISPs', () => {
    const counts = new Map<string, number>();
    for (const l of lines) counts.set(l.fields[6]!, (counts.get(l.fields[6]!) ?? 0) + 1);
    const frequent = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 60).map(([isp]) => isp);
    // Left uncoded on purpose: neither names one carrier ("印度电信" covers Akamai and BSNL
    // blocks alike; "层峰网络" spans India, the US and China), and an invented code would mislead.
    expect(frequent.filter((isp) => isp !== '0' && ispCode(isp) === '').sort()).toEqual(['印度电信', '层峰网络'].sort());
    const chinese = new Map<string, number>();
    for (const l of lines) if (l.fields[2] === '中国') chinese.set(l.fields[6]!, (chinese.get(l.fields[6]!) ?? 0) + 1);
    const frequentInChina = [...chinese].filter(([, n]) => n >= 100).map(([isp]) => isp);
    expect(frequentInChina.filter((isp) => isp !== '0' && ispCode(isp) === '')).toEqual([]);
  });
});
