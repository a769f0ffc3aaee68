import { readFileSync } from 'node:fs';
import { Reader, type Response } from 'maxmind';
import { describe, expect, it } from 'vitest';
import { createSeededU32 } from '@cdn-sched/testing';
import { parseClientAddress } from './client-address.js';
import { GeoIpError } from './geoip-error.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';
import { formatIpv6 } from './ipv6.js';
import { parseGeoIpDatabase } from './load-geoip-database.js';
import { mmdbRecordLocation } from './mmdb-database.js';

const MAXMIND_DIR = '/work/shared/data/maxmind';
const cityBytes = readFileSync(`${MAXMIND_DIR}/GeoIP2-City-Test.mmdb`);
const asnBytes = readFileSync(`${MAXMIND_DIR}/GeoLite2-ASN-Test.mmdb`);

function mappedBytes(ip: number): Uint8Array {
  const bytes = new Uint8Array(16);
  bytes.set([0xff, 0xff, ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff], 10);
  return bytes;
}

function errorOf(fn: () => unknown): GeoIpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GeoIpError) return error;
    throw error;
  }
  throw new Error('expected a GeoIpError');
}

/** Minimal MaxMind DB writer (format spec 2.0) for an IPv4-only tree, 24-bit records. */
function buildIpv4Mmdb(networks: ReadonlyArray<readonly [cidr: string, country: string]>): Buffer {
  const control = (type: number, size: number): number[] =>
    type <= 7 ? [(type << 5) | size] : [size, type - 7];
  const str = (s: string): number[] => [...control(2, Buffer.byteLength(s)), ...Buffer.from(s)];
  const u16 = (n: number): number[] => [...control(5, 2), n >> 8, n & 0xff];
  const u32 = (n: number): number[] => [...control(6, 4), n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const map = (entries: ReadonlyArray<[string, number[]]>): number[] => [...control(7, entries.length), ...entries.flatMap(([k, v]) => [...str(k), ...v])];
  const nodes: Array<[number, number]> = [[-1, -1]];
  const data: number[] = [];
  for (const [cidr, country] of networks) {
    const [address, len] = cidr.split('/') as [string, string];
    const ip = parseIpv4(address);
    const offset = data.length;
    data.push(...map([['country', map([['iso_code', str(country)]])]]));
    let node = 0;
    for (let depth = 0; depth < Number(len); depth++) {
      const bit = (ip >>> (31 - depth)) & 1;
      if (depth === Number(len) - 1) {
        nodes[node]![bit] = -2 - offset;
      } else {
        if (nodes[node]![bit]! < 0) {
          nodes.push([-1, -1]);
          nodes[node]![bit] = nodes.length - 1;
        }
        node = nodes[node]![bit]!;
      }
    }
  }
  const count = nodes.length;
  const record = (r: number): number => (r === -1 ? count : r <= -2 ? count + 16 + (-2 - r) : r);
  const tree = nodes.flatMap(([l, r]) => [record(l) >> 16, (record(l) >> 8) & 0xff, record(l) & 0xff, record(r) >> 16, (record(r) >> 8) & 0xff, record(r) & 0xff]);
  const metadata = map([
    ['node_count', u32(count)],
    ['record_size', u16(24)],
    ['ip_version', u16(4)],
    ['database_type', str('Test-IPv4')],
    ['languages', [...control(11, 0)]],
    ['binary_format_major_version', u16(2)],
    ['binary_format_minor_version', u16(0)],
    ['build_epoch', u32(1_700_000_000)],
    ['description', map([['en', str('test')]])],
  ]);
  return Buffer.from([...tree, ...new Array(16).fill(0), ...data, 0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com'), ...metadata]);
}

describe('MaxMind DB (.mmdb)', () => {
  const city = parseGeoIpDatabase(cityBytes, 'GeoIP2-City-Test.mmdb');

  it.each([
    ['81.2.69.142', { country: 'GB', region: 'GB-ENG', isp: '', prefixLen: 31 }],
    ['2.125.160.216', { country: 'GB', region: 'GB-ENG', isp: '', prefixLen: 29 }],
    ['89.160.20.112', { country: 'SE', region: 'SE-E', isp: '', prefixLen: 28 }],
    ['175.16.199.1', { country: 'CN', region: 'CN-22', isp: '', prefixLen: 24 }],
    ['216.160.83.57', { country: 'US', region: 'US-WA', isp: '', prefixLen: 29 }],
    ['67.43.156.1', { country: 'BT', region: '', isp: '', prefixLen: 24 }],
    ['1.1.1.1', { country: '', region: '', isp: '', prefixLen: 8 }],
    ['2001:218::1', { country: 'JP', region: '', isp: '', prefixLen: 32 }],
    ['2001:2e0:1::', { country: 'HK', region: '', isp: '', prefixLen: 32 }],
    ['2001:480:10::1', { country: 'US', region: 'US-CA', isp: '', prefixLen: 48 }],
    ['2a02:cf40:1::', { country: 'NO', region: '', isp: '', prefixLen: 29 }],
    // 6to4 (2002::/16) is aliased to the IPv4 tree in MaxMind databases.
    ['2002:5102:458e::', { country: 'GB', region: 'GB-ENG', isp: '', prefixLen: 47 }],
    ['2001:480::1', { country: '', region: '', isp: '', prefixLen: 44 }],
    ['240e::1', { country: '', region: '', isp: '', prefixLen: 6 }],
  ])('knows %s', (address, expected) => {
    expect(city.lookup(address)).toEqual(expected);
  });

  it('looks IPv4-mapped IPv6 up as IPv4, with the prefix in IPv6 bits', () => {
    const mapped = parseClientAddress('::ffff:81.2.69.142');
    expect(mapped.family).toBe(4);
    const bytes = mappedBytes(parseIpv4('81.2.69.142'));
    expect(city.location(city.lookupV6(bytes))).toEqual({ country: 'GB', region: 'GB-ENG', isp: '' });
    expect(city.prefixLenV6(bytes)).toBe(96 + 31);
  });

  it('agrees with the maxmind reader on addresses in and around every test network', () => {
    const reader = new Reader<Response>(cityBytes);
    const next = createSeededU32(11);
    const v4Networks = ['2.125.160.216/29', '67.43.156.0/24', '81.2.69.142/31', '81.2.69.160/27', '89.160.20.128/25', '149.101.100.0/28', '175.16.199.0/24', '202.196.224.0/20', '214.78.120.0/22', '216.160.83.56/29'];
    const mismatches: string[] = [];
    let hits = 0;
    const check = (address: string): void => {
      const [record, prefixLen] = reader.getWithPrefixLength(address);
      if (record !== null) hits++;
      // Mapped addresses are answered as IPv4 by `lookup`, so their prefix counts IPv4 bits.
      const mapped = address.includes(':') && parseClientAddress(address).family === 4;
      const want = { ...mmdbRecordLocation(record), prefixLen: mapped ? prefixLen - 96 : prefixLen };
      const got = city.lookup(address);
      if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${address}: got ${JSON.stringify(got)} want ${JSON.stringify(want)}`);
    };
    /** A random address sharing the first `len` bits of `base` (16 bytes). */
    const randomIn = (base: Uint8Array, len: number): Uint8Array => {
      const out = new Uint8Array(16);
      for (let i = 0; i < 16; i++) {
        const keep = Math.max(0, Math.min(8, len - i * 8));
        const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
        out[i] = (base[i]! & mask) | (next() & ~mask & 0xff);
      }
      return out;
    };
    const networks = [
      ...v4Networks.map((n) => `::ffff:${n.split('/')[0]}/${96 + Number(n.split('/')[1])}`),
      '2001:218::/32',
      '2001:250::/31',
      '2001:2e0::/32',
      '2001:480:10::/48',
      '2a02:cf40::/29',
      '2a02:d4c0::/30',
      '2002:5102:4590::/44',
    ];
    for (const network of networks) {
      const [base, len] = network.split('/') as [string, string];
      const bytes = parseClientAddress(base).v6 ?? mappedBytes(parseIpv4(base.slice(7)));
      for (let i = 0; i < 150; i++) {
        // Inside the network, then in its /(len-4) neighbourhood (hits and misses).
        check(formatIpv6(randomIn(bytes, Number(len))));
        check(formatIpv6(randomIn(bytes, Number(len) - 4)));
      }
    }
    for (let i = 0; i < 1_000; i++) check(formatIpv4(next()));
    for (let i = 0; i < 1_000; i++) check(formatIpv6(randomIn(new Uint8Array(16), 0)));
    expect(mismatches.slice(0, 5)).toEqual([]);
    // Both outcomes must be exercised for the comparison to mean anything.
    expect(hits).toBeGreaterThan(2_500);
    expect(hits).toBeLessThan(5_000);
  });

  it('interns locations: the same record gives the same id and frozen object', () => {
    const a = city.lookupV4(parseIpv4('81.2.69.160'));
    const b = city.lookupV4(parseIpv4('81.2.69.170'));
    expect(a).toBe(b);
    expect(city.location(a)).toBe(city.location(b));
    expect(Object.isFrozen(city.location(a))).toBe(true);
    const before = city.stats().locationCount;
    for (let i = 0; i < 1_000; i++) city.lookupV4(parseIpv4('81.2.69.160') + (i % 32));
    expect(city.stats().locationCount).toBe(before);
  });

  it('reads the ISP of an ASN database', () => {
    const asn = parseGeoIpDatabase(asnBytes, 'GeoLite2-ASN-Test.mmdb');
    expect(asn.lookup('1.128.0.1')).toEqual({ country: '', region: '', isp: 'telstra', prefixLen: 11 });
    expect(asn.lookup('12.81.92.1')).toEqual({ country: '', region: '', isp: 'att', prefixLen: 22 });
    // AS237 (Merit) is not in the ASN table: unknown ISP.
    expect(asn.lookup('2600:6000::1').isp).toBe('');
  });

  it('supports IPv4-only trees (ip_version 4)', () => {
    const db = parseGeoIpDatabase(buildIpv4Mmdb([['10.0.0.0/8', 'AA'], ['192.168.0.0/16', 'ZZ'], ['192.169.0.0/24', 'DE']]), 'v4.mmdb');
    expect(db.lookup('10.200.0.1')).toEqual({ country: 'AA', region: '', isp: '', prefixLen: 8 });
    expect(db.lookup('192.168.3.4')).toEqual({ country: 'ZZ', region: '', isp: '', prefixLen: 16 });
    expect(db.lookup('192.169.0.200')).toEqual({ country: 'DE', region: '', isp: '', prefixLen: 24 });
    expect(db.lookup('11.0.0.1').country).toBe('');
    // IPv6 outside ::ffff:0:0/96 has no data in an IPv4 tree.
    expect(db.lookup('2001:db8::1')).toEqual({ country: '', region: '', isp: '', prefixLen: 3 });
    const mapped = mappedBytes(parseIpv4('10.1.2.3'));
    expect(db.location(db.lookupV6(mapped)).country).toBe('AA');
    expect(db.prefixLenV6(mapped)).toBe(104);
  });

  it('refuses a truncated file (metadata lost)', () => {
    const error = errorOf(() => parseGeoIpDatabase(cityBytes.subarray(0, cityBytes.length - 400), 'cut.mmdb'));
    expect(error.code).toBe('EGEOIP_FORMAT');
    expect(error.message).toBe('cut.mmdb: no MaxMind DB metadata marker (not an .mmdb file, or truncated)');
  });

  it('refuses a file whose tree points past the data section', () => {
    const broken = Buffer.from(cityBytes);
    // Node 5, left record (28-bit layout): set it to the largest value it can hold.
    const at = 5 * 7;
    broken[at] = 0xff;
    broken[at + 1] = 0xff;
    broken[at + 2] = 0xff;
    broken[at + 3] = broken[at + 3]! | 0xf0;
    expect(errorOf(() => parseGeoIpDatabase(broken, 'corrupt.mmdb')).message).toMatch(
      /^corrupt\.mmdb: corrupt MaxMind DB: node 5 points to data offset \d+, past the \d+-byte data section$/,
    );
  });

  it('refuses a tree that does not fit before the metadata', () => {
    const metadataAt = cityBytes.lastIndexOf(Buffer.from('MaxMind.com')) - 3;
    const cut = Buffer.concat([cityBytes.subarray(0, 5000), cityBytes.subarray(metadataAt)]);
    expect(errorOf(() => parseGeoIpDatabase(cut, 'short.mmdb')).message).toMatch(/^short\.mmdb: corrupt MaxMind DB: a \d+-byte search tree of \d+ nodes does not fit/);
  });
});
