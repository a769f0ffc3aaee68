import { describe, expect, it } from 'vitest';
import { parseClientAddress, parseEcsSubnet, subnetKey, subnetKeyV4 } from './client-address.js';
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
