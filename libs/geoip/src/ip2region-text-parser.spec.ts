import { describe, expect, it } from 'vitest';
import { GeoIpError } from './geoip-error.js';
import { createIp2RegionTextParser } from './ip2region-text-parser.js';
import { formatIpv4 } from './ipv4.js';
import { parseGeoIpDatabase } from './load-geoip-database.js';

const LINES = [
  '0.0.0.0|0.255.255.255|0|0|0|内网IP|内网IP',
  '1.0.0.0|1.0.0.255|澳大利亚|0|0|0|0',
  '1.0.1.0|1.0.3.255|中国|0|福建省|福州市|电信',
  '1.0.4.0|1.0.7.255|中国|0|福建省|厦门市|电信',
  '1.0.8.0|255.255.255.255|美国|0|0|0|Level3',
];

function parse(text: string | Buffer, name = 'test.txt') {
  return parseGeoIpDatabase(typeof text === 'string' ? Buffer.from(text, 'utf8') : text, name);
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

describe('ip2region text parser', () => {
  it('loads ranges, normalises and merges them', () => {
    const db = parse(LINES.join('\n'));
    expect(db.format).toBe('ip2region-text');
    expect(db.lookup('0.1.2.3')).toEqual({ country: '', region: '', isp: '', prefixLen: 8 });
    expect(db.lookup('1.0.0.9')).toEqual({ country: 'AU', region: '', isp: '', prefixLen: 24 });
    expect(db.lookup('1.0.2.3')).toEqual({ country: 'CN', region: 'CN-FJ', isp: 'ct', prefixLen: 23 });
    expect(db.lookup('1.0.5.5')).toEqual({ country: 'CN', region: 'CN-FJ', isp: 'ct', prefixLen: 22 });
    expect(db.lookup('8.8.8.8')).toEqual({ country: 'US', region: '', isp: 'level3', prefixLen: 5 });
    // Fuzhou and Xiamen differ only by city, which is not kept: one range.
    expect(db.stats()).toMatchObject({ sourceRangeCount: 5, indexedRangeCount: 4, locationCount: 3 });
    expect(db.location(db.lookupV4(0x01000203))).toBe(db.location(db.lookupV4(0x01000505)));
    expect(Object.isFrozen(db.location(db.lookupV4(0x01000203)))).toBe(true);
  });

  it('accepts CRLF line ends, a UTF-8 BOM and trailing blank lines', () => {
    const db = parse(`\ufeff${LINES.join('\r\n')}\r\n\r\n`);
    expect(db.lookup('1.0.2.3')).toEqual({ country: 'CN', region: 'CN-FJ', isp: 'ct', prefixLen: 23 });
    expect(db.stats().sourceRangeCount).toBe(5);
  });

  it('parses in bounded steps', () => {
    const parser = createIp2RegionTextParser(Buffer.from(LINES.join('\n')), 'steps.txt');
    const results = [parser.step(2), parser.step(2), parser.step(2)];
    expect(results).toEqual([false, false, true]);
    expect(parser.finish().lookup('1.0.0.1').country).toBe('AU');
  });

  it.each([
    ['a missing field', 2, '1.0.0.0|1.0.0.255|澳大利亚|0|0|0', "line 2: expected 7 '|'-separated fields (start|end|country|region|province|city|isp), found 6"],
    ['an extra field', 3, '1.0.1.0|1.0.3.255|中国|0|福建省|福州市|电信|x', 'line 3: expected 7'],
    ['a line without separators', 3, 'garbage', 'line 3: expected 7'],
    ['a bad start address', 2, '1.0.0.x|1.0.0.255|澳大利亚|0|0|0|0', "line 2: '1.0.0.x' is not an IPv4 address"],
    ['a bad end address', 2, '1.0.0.0|1.0.0.256|澳大利亚|0|0|0|0', "line 2: '1.0.0.256' is not an IPv4 address"],
    ['non-ASCII in an address', 2, '一.0.0.0|1.0.0.255|澳大利亚|0|0|0|0', "line 2: '一.0.0.0' is not an IPv4 address"],
    ['a gap', 2, '1.0.0.1|1.0.0.255|澳大利亚|0|0|0|0', 'line 2: range 1.0.0.1-1.0.0.255 leaves a gap after 0.255.255.255'],
    ['an overlap', 2, '0.255.255.0|1.0.0.255|澳大利亚|0|0|0|0', 'line 2: range 0.255.255.0-1.0.0.255: range overlaps or precedes the previous range'],
    ['an inverted range', 2, '1.0.0.0|0.255.255.255|澳大利亚|0|0|0|0', 'line 2: range 1.0.0.0-0.255.255.255: range start is after its end'],
  ])('refuses %s, naming the file and line', (_what, lineNo, replacement, message) => {
    const lines = [...LINES];
    lines[lineNo - 1] = replacement;
    const error = errorOf(() => parse(lines.join('\n'), 'broken.txt'));
    expect(error.code).toBe('EGEOIP_FORMAT');
    expect(error.file).toBe('broken.txt');
    expect(error.line).toBe(lineNo);
    expect(error.message).toContain(`broken.txt: ${message}`);
  });

  it('refuses a file that does not start at 0.0.0.0', () => {
    expect(errorOf(() => parse(LINES.slice(1).join('\n'))).message).toBe(
      'test.txt: line 1: range 1.0.0.0-1.0.0.255 leaves a gap after the start of the address space (ip2region data must cover the IPv4 space contiguously)',
    );
  });

  it('refuses a file cut at a line boundary (it would silently lose its tail)', () => {
    const error = errorOf(() => parse(`${LINES.slice(0, 4).join('\n')}\n`));
    expect(error.message).toBe('test.txt: the last range (line 4) ends at 1.0.7.255, not 255.255.255.255: the file looks truncated');
  });

  it('refuses a file cut inside a line', () => {
    const text = LINES.join('\n');
    const error = errorOf(() => parse(text.slice(0, text.length - 20)));
    expect(error.line).toBe(5);
    expect(error.message).toMatch(/line 5: expected 7 .* found 2$/);
  });

  it('refuses an empty file', () => {
    expect(errorOf(() => parse('')).message).toBe('test.txt: empty file');
    expect(errorOf(() => parse('\n\n')).message).toBe('test.txt: no ranges (empty file?)');
  });

  it('counts lines across decoding chunks', () => {
    // ~3 MiB of /24 ranges, so the error sits in the third 1 MiB chunk.
    const lines = ['0.0.0.0|0.255.255.255|0|0|0|0|0'];
    for (let i = 0; i < 60_000; i++) {
      const start = 0x01000000 + i * 256;
      lines.push(`${formatIpv4(start)}|${formatIpv4(start + 255)}|中国|0|广东省|深圳市|${i % 2 === 0 ? '电信' : '联通'}`);
    }
    const good = [...lines, `${formatIpv4(0x01000000 + 60_000 * 256)}|255.255.255.255|0|0|0|0|0`];
    const db = parse(good.join('\n'));
    expect(db.stats().sourceRangeCount).toBe(60_002);
    expect(db.lookup(formatIpv4(0x01000000 + 59_999 * 256 + 7)).isp).toBe('cu');
    const broken = [...good];
    broken[50_000] = broken[50_000]!.replace('|中国|', '|');
    const error = errorOf(() => parse(broken.join('\n')));
    expect(error.line).toBe(50_001);
  });

  it('refuses a line longer than the decoding chunk', () => {
    const error = errorOf(() => parse(`${LINES[0]}\n${'1'.repeat(2 << 20)}\n${LINES.slice(1).join('\n')}`));
    expect(error.message).toBe('test.txt: line 2: line longer than 1048576 bytes');
  });
});
