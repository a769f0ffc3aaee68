import { describe, expect, it } from 'vitest';
import { ecsV4Address, ecsV4PrefixLen, parseClientAddress, parseEcsSubnet, parseEcsSubnetV4Bytes, subnetKey, subnetKeyV4 } from './client-address.js';
import { GeoIpError } from './geoip-error.js';
import { formatIpv4, parseIpv4 } from './ipv4.js';
import { formatIpv6 } from './ipv6.js';

function errorOf(fn: () => unknown): GeoIpError {
  try {
    fn();
  } catch (error) {
    if (error instanceof GeoIpError) return error;
    throw error;
  }
  throw new Error('expected a GeoIpError');
}

describe('parseClientAddress', () => {
  it('parses IPv4 and IPv6', () => {
    expect(parseClientAddress('1.2.3.4')).toEqual({ family: 4, v4: 0x01020304, v6: undefined, prefixLen: 32 });
    const v6 = parseClientAddress('2001:db8::1');
    expect(v6.family).toBe(6);
    expect(formatIpv6(v6.v6!)).toBe('2001:db8::1');
    expect(v6.prefixLen).toBe(128);
  });

  it('reports IPv4-mapped IPv6 as IPv4 (dual-stack sockets give ::ffff:a.b.c.d)', () => {
    expect(parseClientAddress('::ffff:10.1.2.3')).toEqual({ family: 4, v4: parseIpv4('10.1.2.3'), v6: undefined, prefixLen: 32 });
  });

  it('refuses garbage with a message naming the field and value', () => {
    const error = errorOf(() => parseClientAddress('1.2.3'));
    expect(error.code).toBe('EGEOIP_ADDRESS');
    expect(error.message).toBe("client_ip: '1.2.3' is not an IPv4 or IPv6 address");
    expect(errorOf(() => parseClientAddress('', 'address')).message).toBe("address: '' is not an IPv4 or IPv6 address");
  });

  it('truncates a long value in the message', () => {
    const message = errorOf(() => parseClientAddress('x'.repeat(500))).message;
    expect(message.length).toBeLessThan(120);
    expect(message).toContain('…');
  });
});

describe('parseEcsSubnet', () => {
  it('parses address/prefix and clears host bits', () => {
    const v4 = parseEcsSubnet('1.2.3.4/24');
    expect(formatIpv4(v4.v4)).toBe('1.2.3.0');
    expect(v4.prefixLen).toBe(24);
    expect(parseEcsSubnet('0.0.0.0/0')).toEqual({ family: 4, v4: 0, v6: undefined, prefixLen: 0 });
    const v6 = parseEcsSubnet('2001:db8:1:2::/48');
    expect(formatIpv6(v6.v6!)).toBe('2001:db8:1::');
    expect(v6.prefixLen).toBe(48);
  });

  it('turns a mapped subnet of /96 or longer into IPv4', () => {
    const addr = parseEcsSubnet('::ffff:1.2.3.0/120');
    expect(addr.family).toBe(4);
    expect(addr.prefixLen).toBe(24);
    expect(formatIpv4(addr.v4)).toBe('1.2.3.0');
  });

  it.each([
    ['1.2.3.0', "ecs_subnet: '1.2.3.0' is not an 'address/prefix' subnet"],
    ['1.2.3/24', "ecs_subnet: '1.2.3/24': '1.2.3' is not an IPv4 or IPv6 address"],
    ['1.2.3.0/33', "ecs_subnet: '1.2.3.0/33' has prefix length 33, more than 32 for IPv4"],
    ['2001:db8::/129', "ecs_subnet: '2001:db8::/129' has prefix length 129, more than 128 for IPv6"],
    ['1.2.3.0/', "ecs_subnet: '1.2.3.0/' has an invalid prefix length '' (0-32 for IPv4)"],
    ['1.2.3.0/x', "ecs_subnet: '1.2.3.0/x' has an invalid prefix length 'x' (0-32 for IPv4)"],
    ['1.2.3.0/024', "ecs_subnet: '1.2.3.0/024' has an invalid prefix length '024' (0-32 for IPv4)"],
    ['1.2.3.0/-1', "ecs_subnet: '1.2.3.0/-1' has an invalid prefix length '-1' (0-32 for IPv4)"],
    ['1.2.3.0/24/1', "ecs_subnet: '1.2.3.0/24/1' has an invalid prefix length '24/1' (0-32 for IPv4)"],
  ])('refuses %j', (text, message) => {
    const error = errorOf(() => parseEcsSubnet(text));
    expect(error.code).toBe('EGEOIP_ADDRESS');
    expect(error.message).toBe(message);
  });
});

describe('subnet keys for consistent hashing', () => {
  it('masks IPv4 to /24, or to a shorter ECS prefix', () => {
    expect(formatIpv4(subnetKeyV4(parseIpv4('1.2.3.4')))).toBe('1.2.3.0');
    expect(formatIpv4(subnetKeyV4(parseIpv4('1.2.3.4'), 16))).toBe('1.2.0.0');
    expect(formatIpv4(subnetKeyV4(parseIpv4('1.2.3.4'), 28))).toBe('1.2.3.0');
    expect(subnetKeyV4(parseIpv4('1.2.3.4'))).toBe(subnetKeyV4(parseIpv4('1.2.3.200')));
  });

  it('gives CIDR text keys for both families', () => {
    expect(subnetKey(parseClientAddress('1.2.3.4'))).toBe('1.2.3.0/24');
    expect(subnetKey(parseEcsSubnet('10.20.0.0/16'))).toBe('10.20.0.0/16');
    expect(subnetKey(parseClientAddress('2001:db8:abcd:ef12::1'))).toBe('2001:db8:abcd:ef00::/56');
    expect(subnetKey(parseEcsSubnet('2001:db8::/32'))).toBe('2001:db8::/32');
    expect(subnetKey(parseClientAddress('2001:db8:abcd:ef12::1'))).toBe(subnetKey(parseClientAddress('2001:db8:abcd:efff::2')));
    expect(subnetKey(parseClientAddress('::ffff:1.2.3.4'))).toBe('1.2.3.0/24');
  });
});

describe('parseEcsSubnetV4Bytes (the wire decoder\'s IPv4 ECS path) against parseEcsSubnet', () => {
  /** What parseEcsSubnet makes of `text`: an IPv4 subnet written as a dotted quad, or undefined. */
  function oracle(text: string): { v4: number; prefixLen: number } | undefined {
    let parsed;
    try {
      parsed = parseEcsSubnet(text);
    } catch {
      return undefined;
    }
    // Mapped IPv6 text ("::ffff:1.2.3.4/120") is family 4 too, but not a dotted quad: the text path's.
    return parsed.family === 4 && parseIpv4(text.slice(0, text.indexOf('/'))) >= 0 ? { v4: parsed.v4, prefixLen: parsed.prefixLen } : undefined;
  }
  const ours = (text: string): { v4: number; prefixLen: number } | undefined => {
    const bytes = new TextEncoder().encode(`xx${text}yy`);
    const subnet = parseEcsSubnetV4Bytes(bytes, 2, bytes.length - 2);
    return subnet < 0 ? undefined : { v4: ecsV4Address(subnet), prefixLen: ecsV4PrefixLen(subnet) };
  };

  it('reads every valid IPv4 subnet as parseEcsSubnet does, host bits cleared, and refuses the rest', () => {
    const fixed = ['1.2.3.4/24', '1.2.3.0/24', '255.255.255.255/32', '0.0.0.0/0', '10.1.2.3/0', '10.1.2.3/8', '203.0.113.77/31', '1.2.3.4/1'];
    for (const text of fixed) expect(ours(text), text).toEqual(oracle(text));
    expect(ours('1.2.3.4/24')).toEqual({ v4: 0x01020300, prefixLen: 24 });
    expect(ours('255.255.255.255/32')).toEqual({ v4: 0xffffffff, prefixLen: 32 });
    const refused = ['1.2.3.4/33', '1.2.3.4/024', '1.2.3.4/00', '1.2.3.4/', '1.2.3.4', '/24', '1.2.3/24', '01.2.3.4/24', '1.2.3.4/2a', '1.2.3.4//24', '1.2.3.4/100', '2001:db8::/32', '::ffff:1.2.3.4/120', '', '/', '1.2.3.4/ 24', ' 1.2.3.4/24'];
    for (const text of refused) {
      expect(ours(text), text).toBeUndefined();
      expect(oracle(text), text).toBeUndefined();
    }
  });

  it('agrees with parseEcsSubnet on 20,000 random and mutated subnets', () => {
    let state = 0x2545f491;
    const next = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const alphabet = '0123456789./:a ';
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = `${next(300)}.${next(256)}.${next(256)}.${next(256)}/${next(40)}`;
      for (let m = next(3); m > 0; m--) {
        const at = next(text.length + 1);
        const kind = next(3);
        if (kind === 0) text = text.slice(0, at) + text.slice(at + 1);
        else if (kind === 1) text = text.slice(0, at) + alphabet[next(alphabet.length)]! + text.slice(at);
        else text = text.slice(0, at) + alphabet[next(alphabet.length)]! + text.slice(at + 1);
      }
      const want = oracle(text);
      expect(ours(text), text).toEqual(want);
      if (want) accepted++;
    }
    expect(accepted).toBeGreaterThan(5000);
  });
});
