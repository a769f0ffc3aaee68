import { describe, expect, it } from 'vitest';
import { createSeededU32 } from '@cdn-sched/testing';
import { cidrPrefixLenV4, formatIpv4, maskIpv4, parseIpv4, parseIpv4Bytes, parseIpv4Slice } from './ipv4.js';

/** The definition, by brute force: the shortest prefix whose block around ip fits in [start, end]. */
function bruteForcePrefixLen(ip: number, start: number, end: number): number {
  for (let len = 0; len <= 32; len++) {
    const size = 2 ** (32 - len);
    const blockStart = Math.floor(ip / size) * size;
    if (blockStart >= start && blockStart + size - 1 <= end) return len;
  }
  throw new Error('unreachable: the /32 block always fits');
}

describe('parseIpv4', () => {
  it('parses dotted quads to u32', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('1.2.3.4')).toBe(0x01020304);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('192.168.0.10')).toBe(0xc0a8000a);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-4', '1..2.3', '.1.2.3', '1.2.3.', '01.2.3.4', '1.2.3.00', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.4/24', '::1', '1.2.3.1000'])(
    'refuses %j',
    (text) => {
      expect(parseIpv4(text)).toBe(-1);
    },
  );

  it('parses a slice of a longer string', () => {
    const line = '1.0.0.0|1.0.0.255|x';
    expect(parseIpv4Slice(line, 0, 7)).toBe(0x01000000);
    expect(parseIpv4Slice(line, 8, 17)).toBe(0x010000ff);
  });

  it('round-trips with formatIpv4 on random addresses, from text and from bytes', () => {
    const next = createSeededU32(7);
    const failures: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const ip = next();
      const text = formatIpv4(ip);
      if (parseIpv4(text) !== ip || parseIpv4Bytes(Buffer.from(text)) !== ip) failures.push(text);
    }
    expect(failures).toEqual([]);
  });

  it('parses bytes with the same rules as text', () => {
    const cases = ['1.2.3.4', '0.0.0.0', '255.255.255.255', '', '1.2.3', '01.2.3.4', '256.1.1.1', '1.2.3.4 ', '1..2.3', '1.2.3.1000', '一.2.3.4'];
    for (const text of cases) expect([text, parseIpv4Bytes(Buffer.from(text))]).toEqual([text, parseIpv4(text)]);
    const message = Buffer.from('\x12\x0b10.20.30.40\x1a');
    expect(formatIpv4(parseIpv4Bytes(message, 2, 13))).toBe('10.20.30.40');
  });
});

describe('maskIpv4', () => {
  it('keeps the prefix bits', () => {
    expect(formatIpv4(maskIpv4(parseIpv4('1.2.3.4'), 24))).toBe('1.2.3.0');
    expect(formatIpv4(maskIpv4(parseIpv4('255.255.255.255'), 1))).toBe('128.0.0.0');
    expect(maskIpv4(0xffffffff, 0)).toBe(0);
    expect(maskIpv4(0xffffffff, 32)).toBe(0xffffffff);
  });
});

describe('cidrPrefixLenV4', () => {
  it('gives the largest aligned block inside the range', () => {
    // 1.0.1.0-1.0.3.255: 1.0.1.x is only a /24, 1.0.2.x and 1.0.3.x form a /23.
    const start = parseIpv4('1.0.1.0');
    const end = parseIpv4('1.0.3.255');
    expect(cidrPrefixLenV4(parseIpv4('1.0.1.7'), start, end)).toBe(24);
    expect(cidrPrefixLenV4(parseIpv4('1.0.2.7'), start, end)).toBe(23);
    expect(cidrPrefixLenV4(parseIpv4('1.0.3.255'), start, end)).toBe(23);
    expect(cidrPrefixLenV4(0, 0, 0xffffffff)).toBe(0);
    expect(cidrPrefixLenV4(5, 5, 5)).toBe(32);
    expect(cidrPrefixLenV4(0xffffffff, 0xe0000000, 0xffffffff)).toBe(3);
  });

  it('matches the brute-force definition on random ranges', () => {
    const next = createSeededU32(42);
    for (let i = 0; i < 20_000; i++) {
      const a = next();
      const b = i % 2 === 0 ? next() : Math.min(0xffffffff, a + (next() % 5000));
      const start = Math.min(a, b);
      const end = Math.max(a, b);
      const ip = start + Math.floor(((end - start + 1) * next()) / 2 ** 32);
      expect(cidrPrefixLenV4(ip, start, end)).toBe(bruteForcePrefixLen(ip, start, end));
    }
  });
});
