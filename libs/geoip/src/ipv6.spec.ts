import { describe, expect, it } from 'vitest';
import { createSeededU32 } from '@cdn-sched/testing';
import { formatIpv6, formatIpv6Full, ipv4FromMapped, isIpv4Mapped, maskIpv6, parseIpv6 } from './ipv6.js';

function hex(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString('hex');
}

describe('parseIpv6', () => {
  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['2001:DB8:0:0:8:800:200C:417A', '20010db80000000000080800200c417a'],
    ['ff01::101', 'ff010000000000000000000000000101'],
    ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
    ['::2:3:4:5:6:7:8', '00000002000300040005000600070008'],
    ['::ffff:1.2.3.4', '00000000000000000000ffff01020304'],
    ['::13.1.68.3', '0000000000000000000000000d014403'],
    ['0:0:0:0:0:ffff:129.144.52.38', '00000000000000000000ffff81903426'],
    ['240e:3b7:3272:d8d0:db09:c067:8d59:539e', '240e03b73272d8d0db09c0678d59539e'],
  ])('parses %s', (text, expected) => {
    expect(hex(parseIpv6(text))).toBe(expected);
  });

  it.each(['', ':', ':::', '1:::2', '1::2::3', ':1::', '1::2:', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::ffff:1.2.3', '::ffff:1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', 'fe80::1%eth0', '1.2.3.4', '1:2:3:4:5:6:7:8::'])(
    'refuses %j',
    (text) => {
      expect(parseIpv6(text)).toBeUndefined();
    },
  );

  it('writes into a caller-owned buffer', () => {
    const out = new Uint8Array(16).fill(0xaa);
    expect(parseIpv6('2001:db8::', out)).toBe(out);
    expect(hex(out)).toBe('20010db8000000000000000000000000');
  });
});

describe('formatIpv6', () => {
  it.each([
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['2001:DB8::AB', '2001:db8::ab'],
  ])('writes %s as %s (RFC 5952)', (input, canonical) => {
    expect(formatIpv6(parseIpv6(input)!)).toBe(canonical);
  });

  it('round-trips random addresses, compressed and full', () => {
    const next = createSeededU32(3);
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 5_000; i++) {
      for (let w = 0; w < 16; w += 4) {
        // Zero some words so that '::' runs of every length occur.
        const word = next() % 3 === 0 ? 0 : next();
        bytes[w] = word >>> 24;
        bytes[w + 1] = (word >>> 16) & 0xff;
        bytes[w + 2] = (word >>> 8) & 0xff;
        bytes[w + 3] = word & 0xff;
      }
      expect(hex(parseIpv6(formatIpv6(bytes)))).toBe(hex(bytes));
      expect(hex(parseIpv6(formatIpv6Full(bytes)))).toBe(hex(bytes));
    }
  });
});

describe('IPv4-mapped addresses and masks', () => {
  it('recognises ::ffff:0:0/96 only', () => {
    expect(isIpv4Mapped(parseIpv6('::ffff:8.8.8.8')!)).toBe(true);
    expect(ipv4FromMapped(parseIpv6('::ffff:8.8.8.8')!)).toBe(0x08080808);
    expect(isIpv4Mapped(parseIpv6('::8.8.8.8')!)).toBe(false);
    expect(isIpv4Mapped(parseIpv6('1::ffff:8.8.8.8')!)).toBe(false);
  });

  it('masks to a prefix', () => {
    const addr = parseIpv6('2001:db8:abcd:ef12:3456::1')!;
    expect(formatIpv6(maskIpv6(addr, 56))).toBe('2001:db8:abcd:ef00::');
    expect(formatIpv6(maskIpv6(addr, 0))).toBe('::');
    expect(formatIpv6(maskIpv6(addr, 128))).toBe('2001:db8:abcd:ef12:3456::1');
    expect(formatIpv6(maskIpv6(addr, 33))).toBe('2001:db8:8000::');
  });
});
