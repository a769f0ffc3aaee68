/**
 * IPv4 addresses as unsigned 32-bit numbers (`0` = 0.0.0.0, `0xffffffff` = 255.255.255.255).
 *
 * Numbers, not byte arrays, because the range index compares them directly against a
 * `Uint32Array` and the resolver hashes them: no allocation anywhere on that path.
 */

const CHAR_0 = 48;
const CHAR_DOT = 46;

/** Digit value of the char at `i`, or -1 when it is not a digit (or past `to`). */
function digitAt(text: string, i: number, to: number): number {
  if (i >= to) return -1;
  const d = text.charCodeAt(i) - CHAR_0;
  return d >= 0 && d <= 9 ? d : -1;
}

/**
 * Parses the dotted-quad IPv4 address in `text[from, to)` without allocating.
 *
 * Strict: exactly four decimal parts of 0–255 and no leading zeros (`01.2.3.4` is refused because
 * some parsers read it as octal, so accepting it would silently place a client elsewhere).
 * Unrolled per octet (at most three digits) rather than a char loop with state: it is on the
 * resolver's per-request path.
 *
 * @returns the address as a u32, or `-1` when the text is not an IPv4 address.
 */
export function parseIpv4Slice(text: string, from: number, to: number): number {
  let value = 0;
  let i = from;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= to || text.charCodeAt(i) !== CHAR_DOT) return -1;
      i++;
    }
    let part = digitAt(text, i, to);
    if (part < 0) return -1;
    const d1 = digitAt(text, ++i, to);
    if (d1 >= 0) {
      if (part === 0) return -1;
      part = part * 10 + d1;
      const d2 = digitAt(text, ++i, to);
      if (d2 >= 0) {
        part = part * 10 + d2;
        if (part > 255) return -1;
        i++;
      }
    }
    value = value * 256 + part;
  }
  return i === to ? value : -1;
}

/** Digit value of the byte at `i`, or -1 when it is not an ASCII digit (or past `to`). */
function digitByteAt(bytes: Uint8Array, i: number, to: number): number {
  if (i >= to) return -1;
  const d = bytes[i]! - CHAR_0;
  return d >= 0 && d <= 9 ? d : -1;
}

/**
 * Parses the dotted-quad IPv4 address in the ASCII/UTF-8 bytes `bytes[from, to)`, with the rules
 * of {@link parseIpv4Slice}. For a wire-level request decoder: the address is read straight from
 * the message bytes, with no string made for it.
 *
 * @returns the address as a u32, or `-1` when the bytes are not an IPv4 address.
 */
export function parseIpv4Bytes(bytes: Uint8Array, from = 0, to = bytes.length): number {
  let value = 0;
  let i = from;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= to || bytes[i] !== CHAR_DOT) return -1;
      i++;
    }
    let part = digitByteAt(bytes, i, to);
    if (part < 0) return -1;
    const d1 = digitByteAt(bytes, ++i, to);
    if (d1 >= 0) {
      if (part === 0) return -1;
      part = part * 10 + d1;
      const d2 = digitByteAt(bytes, ++i, to);
      if (d2 >= 0) {
        part = part * 10 + d2;
        if (part > 255) return -1;
        i++;
      }
    }
    value = value * 256 + part;
  }
  return i === to ? value : -1;
}

/**
 * Parses a dotted-quad IPv4 address without allocating.
 *
 * @returns the address as a u32, or `-1` when `text` is not an IPv4 address.
 */
export function parseIpv4(text: string): number {
  return parseIpv4Slice(text, 0, text.length);
}

/** Formats a u32 address as a dotted quad (`16909060` → `"1.2.3.4"`). */
export function formatIpv4(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/**
 * Keeps the first `prefixLen` bits of `ip` (0–32) and clears the rest: `maskIpv4(1.2.3.4, 24)` is
 * 1.2.3.0.
 */
export function maskIpv4(ip: number, prefixLen: number): number {
  if (prefixLen <= 0) return 0;
  if (prefixLen >= 32) return ip >>> 0;
  return (ip & (0xffffffff << (32 - prefixLen))) >>> 0;
}

/**
 * Prefix length of the largest CIDR block that contains `ip` and lies inside `[start, end]`
 * (all u32, `start <= ip <= end`). O(1): no loop over bit positions.
 *
 * Why it works: the block of size 2^k around `ip` starts at or after `start` iff `ip` and
 * `start - 1` differ in some bit at position ≥ k, i.e. k ≤ the highest differing bit; likewise it
 * ends at or before `end` iff k ≤ the highest bit where `ip` and `end + 1` differ.
 */
export function cidrPrefixLenV4(ip: number, start: number, end: number): number {
  const lowBits = start === 0 ? 32 : 31 - Math.clz32(ip ^ (start - 1));
  const highBits = end >= 0xffffffff ? 32 : 31 - Math.clz32(ip ^ (end + 1));
  return 32 - (lowBits < highBits ? lowBits : highBits);
}
