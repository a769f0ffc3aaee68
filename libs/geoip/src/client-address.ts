import { GeoIpError } from './geoip-error.js';
import { formatIpv4, maskIpv4, parseIpv4, parseIpv4Bytes } from './ipv4.js';
import { formatIpv6, ipv4FromMapped, isIpv4Mapped, maskIpv6, parseIpv6 } from './ipv6.js';

/**
 * A client address as the resolver receives it: a plain address (`client_ip`) or an EDNS
 * client subnet (`ecs_subnet`, RFC 7871).
 */
export interface ClientAddress {
  /** Address family. IPv4-mapped IPv6 input (`::ffff:1.2.3.4`) is reported as family 4. */
  readonly family: 4 | 6;
  /** The IPv4 address as a u32 (host bits beyond `prefixLen` cleared); 0 for family 6. */
  readonly v4: number;
  /** The IPv6 address, 16 bytes (host bits beyond `prefixLen` cleared); undefined for family 4. */
  readonly v6: Uint8Array | undefined;
  /** Source prefix length: 32 or 128 for a plain address, the subnet's length for an ECS subnet. */
  readonly prefixLen: number;
}

/** Prefix of the consistent-hashing key: clients of one /24 (IPv4) or /56 (IPv6) share caches. */
export const SUBNET_KEY_PREFIX_V4 = 24;
/** See {@link SUBNET_KEY_PREFIX_V4}; /56 is the usual delegation to one IPv6 customer site. */
export const SUBNET_KEY_PREFIX_V6 = 56;

/** Longest client text echoed back in an error message (the input is untrusted). */
const MAX_ECHO_CHARS = 64;

function echo(text: string): string {
  return text.length <= MAX_ECHO_CHARS ? text : `${text.slice(0, MAX_ECHO_CHARS)}…`;
}

function addressError(field: string, message: string): GeoIpError {
  return new GeoIpError('EGEOIP_ADDRESS', `${field}: ${message}`);
}

function fromV6(bytes: Uint8Array, prefixLen: number): ClientAddress {
  if (isIpv4Mapped(bytes) && prefixLen >= 96) {
    return { family: 4, v4: maskIpv4(ipv4FromMapped(bytes), prefixLen - 96), v6: undefined, prefixLen: prefixLen - 96 };
  }
  return { family: 6, v4: 0, v6: maskIpv6(bytes, prefixLen, bytes), prefixLen };
}

/**
 * Parses a client address (`client_ip`).
 *
 * @param field - field name for the error message. Defaults to `client_ip`.
 * @throws GeoIpError `EGEOIP_ADDRESS`, e.g. "client_ip: '1.2.3' is not an IPv4 or IPv6 address".
 */
export function parseClientAddress(text: string, field = 'client_ip'): ClientAddress {
  const v4 = parseIpv4(text);
  if (v4 >= 0) return { family: 4, v4, v6: undefined, prefixLen: 32 };
  const v6 = parseIpv6(text);
  if (v6 !== undefined) return fromV6(v6, 128);
  throw addressError(field, `'${echo(text)}' is not an IPv4 or IPv6 address`);
}

function parsePrefixLen(text: string): number {
  if (text.length === 0 || text.length > 3 || (text.length > 1 && text[0] === '0')) return -1;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

/**
 * Parses an EDNS client subnet `address/prefix` (`ecs_subnet`).
 *
 * Host bits past the prefix are cleared rather than refused: RFC 7871 §6 asks for them to be zero
 * on the wire, but a front-end that sends `1.2.3.4/24` means `1.2.3.0/24`, and refusing it would
 * only make that client unroutable.
 *
 * @param field - field name for the error message. Defaults to `ecs_subnet`.
 * @throws GeoIpError `EGEOIP_ADDRESS` naming the field, the value and the problem.
 */
export function parseEcsSubnet(text: string, field = 'ecs_subnet'): ClientAddress {
  const slash = text.indexOf('/');
  if (slash < 0) throw addressError(field, `'${echo(text)}' is not an 'address/prefix' subnet`);
  const addressText = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const v4 = parseIpv4(addressText);
  const v6 = v4 >= 0 ? undefined : parseIpv6(addressText);
  if (v4 < 0 && v6 === undefined) {
    throw addressError(field, `'${echo(text)}': '${echo(addressText)}' is not an IPv4 or IPv6 address`);
  }
  const maxLen = v4 >= 0 ? 32 : 128;
  const family = v4 >= 0 ? 'IPv4' : 'IPv6';
  const prefixLen = parsePrefixLen(prefixText);
  if (prefixLen < 0) {
    throw addressError(field, `'${echo(text)}' has an invalid prefix length '${echo(prefixText)}' (0-${maxLen} for ${family})`);
  }
  if (prefixLen > maxLen) {
    throw addressError(field, `'${echo(text)}' has prefix length ${prefixLen}, more than ${maxLen} for ${family}`);
  }
  if (v4 >= 0) return { family: 4, v4: maskIpv4(v4, prefixLen), v6: undefined, prefixLen };
  return fromV6(v6!, prefixLen);
}

/** ASCII '/' and '0'. */
const CHAR_SLASH = 47;
const CHAR_0 = 48;

/**
 * An IPv4 EDNS client subnet `a.b.c.d/len` read from its ASCII bytes `bytes[from, to)`, for a wire
 * decoder: no string is made. The same rules as {@link parseEcsSubnet} (the address as
 * `parseIpv4`, a prefix of 0–32 without leading zeros, host bits past it cleared), and -1 for
 * anything else — an IPv6 subnet or a malformed one, which the decoder keeps as text so that
 * `parseEcsSubnet` handles it or says what is wrong.
 *
 * @returns the masked address times 64 plus the prefix length (exact: below 2^38), or -1;
 *   {@link ecsV4Address} and {@link ecsV4PrefixLen} take it apart.
 */
export function parseEcsSubnetV4Bytes(bytes: Uint8Array, from: number, to: number): number {
  let slash = to - 1;
  // The prefix is one or two digits: the slash is at most three bytes from the end.
  while (slash > from && slash >= to - 3 && bytes[slash] !== CHAR_SLASH) slash--;
  if (slash <= from || bytes[slash] !== CHAR_SLASH || slash === to - 1) return -1;
  let prefixLen = 0;
  for (let i = slash + 1; i < to; i++) {
    const d = bytes[i]! - CHAR_0;
    if (d < 0 || d > 9) return -1;
    prefixLen = prefixLen * 10 + d;
  }
  if ((to - slash > 2 && bytes[slash + 1] === CHAR_0) || prefixLen > 32) return -1;
  const v4 = parseIpv4Bytes(bytes, from, slash);
  return v4 < 0 ? -1 : maskIpv4(v4, prefixLen) * 64 + prefixLen;
}

/** The masked address of a {@link parseEcsSubnetV4Bytes} result. */
export const ecsV4Address = (subnet: number): number => Math.floor(subnet / 64);

/** The prefix length of a {@link parseEcsSubnetV4Bytes} result. */
export const ecsV4PrefixLen = (subnet: number): number => subnet % 64;

/**
 * The consistent-hashing key of an IPv4 client: its address masked to /24, or to its ECS prefix
 * when that is shorter (a /16 subnet must not be split over /24 keys it never distinguished).
 * Allocation-free.
 *
 * @param prefixLen - source prefix length. Defaults to 32.
 */
export function subnetKeyV4(ip: number, prefixLen = 32): number {
  return maskIpv4(ip, prefixLen < SUBNET_KEY_PREFIX_V4 ? prefixLen : SUBNET_KEY_PREFIX_V4);
}

/**
 * The consistent-hashing key of any client, as CIDR text: `1.2.3.0/24`, `2001:db8:0:100::/56`
 * (or the ECS prefix when shorter). Stable across both families and suitable as a hash input.
 */
export function subnetKey(addr: ClientAddress): string {
  if (addr.family === 4) {
    const len = addr.prefixLen < SUBNET_KEY_PREFIX_V4 ? addr.prefixLen : SUBNET_KEY_PREFIX_V4;
    return `${formatIpv4(maskIpv4(addr.v4, len))}/${len}`;
  }
  const len = addr.prefixLen < SUBNET_KEY_PREFIX_V6 ? addr.prefixLen : SUBNET_KEY_PREFIX_V6;
  return `${formatIpv6(maskIpv6(addr.v6!, len))}/${len}`;
}
