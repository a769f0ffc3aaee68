import { formatIpv4, parseIpv4Slice } from './ipv4.js';

/**
 * IPv6 addresses as 16-byte arrays in network order. Parsing writes into a caller-owned buffer so
 * the resolver can reuse one per request path.
 */

const CHAR_COLON = 58;
const CHAR_DOT = 46;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

function writeWord(out: Uint8Array, word: number, value: number): void {
  out[word * 2] = value >>> 8;
  out[word * 2 + 1] = value & 0xff;
}

/**
 * Parses an IPv6 address (RFC 4291 §2.2 text forms: full, `::`-compressed, and with an embedded
 * dotted-quad tail such as `::ffff:1.2.3.4`) into `out`. Zone ids (`%eth0`) are refused: they
 * are meaningless for a client address.
 *
 * @param out - 16-byte destination; defaults to a new array. Left in an unspecified state when
 *   parsing fails.
 * @returns `out`, or `undefined` when `text` is not an IPv6 address.
 */
export function parseIpv6(text: string, out: Uint8Array = new Uint8Array(16)): Uint8Array | undefined {
  const n = text.length;
  if (n < 2) return undefined;
  let words = 0;
  let gap = -1;
  let i = 0;
  if (text.charCodeAt(0) === CHAR_COLON) {
    if (text.charCodeAt(1) !== CHAR_COLON) return undefined;
    gap = 0;
    i = 2;
  }
  while (i < n) {
    const groupStart = i;
    let value = 0;
    let h: number;
    while (i < n && (h = hexValue(text.charCodeAt(i))) >= 0) {
      value = value * 16 + h;
      i++;
    }
    if (i < n && text.charCodeAt(i) === CHAR_DOT) {
      // Embedded IPv4 (RFC 4291 §2.2 form 3): it takes the last two words and ends the address.
      if (words > 6) return undefined;
      const v4 = parseIpv4Slice(text, groupStart, n);
      if (v4 < 0) return undefined;
      writeWord(out, words++, v4 >>> 16);
      writeWord(out, words++, v4 & 0xffff);
      i = n;
      break;
    }
    const digits = i - groupStart;
    if (digits === 0 || digits > 4 || words === 8) return undefined;
    writeWord(out, words++, value);
    if (i === n) break;
    if (text.charCodeAt(i) !== CHAR_COLON) return undefined;
    i++;
    if (i < n && text.charCodeAt(i) === CHAR_COLON) {
      if (gap >= 0) return undefined;
      gap = words;
      i++;
    } else if (i === n) {
      return undefined;
    }
  }
  if (gap < 0) return words === 8 ? out : undefined;
  if (words > 7) return undefined;
  const shift = 8 - words;
  for (let w = words - 1; w >= gap; w--) {
    out[(w + shift) * 2] = out[w * 2]!;
    out[(w + shift) * 2 + 1] = out[w * 2 + 1]!;
  }
  out.fill(0, gap * 2, (gap + shift) * 2);
  return out;
}

/** True when `addr` is an IPv4-mapped IPv6 address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2). */
export function isIpv4Mapped(addr: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (addr[i] !== 0) return false;
  return addr[10] === 0xff && addr[11] === 0xff;
}

/** The IPv4 address (u32) in the last 32 bits of `addr`. */
export function ipv4FromMapped(addr: Uint8Array): number {
  return ((addr[12]! << 24) | (addr[13]! << 16) | (addr[14]! << 8) | addr[15]!) >>> 0;
}

/**
 * Keeps the first `prefixLen` bits of `addr` (0–128) and clears the rest.
 *
 * @param out - destination (may be `addr` itself); defaults to a new array.
 */
export function maskIpv6(addr: Uint8Array, prefixLen: number, out: Uint8Array = new Uint8Array(16)): Uint8Array {
  for (let i = 0; i < 16; i++) {
    const bits = prefixLen - i * 8;
    const byte = addr[i]!;
    out[i] = bits >= 8 ? byte : bits <= 0 ? 0 : byte & (0xff << (8 - bits));
  }
  return out;
}

/**
 * Formats `addr` in the RFC 5952 canonical text form: lower-case hex, no leading zeros, the longest
 * run of two or more zero words as `::` (the first one on a tie), and `::ffff:a.b.c.d` for
 * IPv4-mapped addresses (RFC 5952 §5).
 */
export function formatIpv6(addr: Uint8Array): string {
  if (isIpv4Mapped(addr)) return `::ffff:${formatIpv4(ipv4FromMapped(addr))}`;
  let bestStart = -1;
  let bestLen = 1;
  for (let w = 0; w < 8; ) {
    if (addr[w * 2] !== 0 || addr[w * 2 + 1] !== 0) {
      w++;
      continue;
    }
    const start = w;
    while (w < 8 && addr[w * 2] === 0 && addr[w * 2 + 1] === 0) w++;
    if (w - start > bestLen) {
      bestStart = start;
      bestLen = w - start;
    }
  }
  const hex = (w: number): string => ((addr[w * 2]! << 8) | addr[w * 2 + 1]!).toString(16);
  if (bestStart < 0) return [0, 1, 2, 3, 4, 5, 6, 7].map(hex).join(':');
  const head: string[] = [];
  const tail: string[] = [];
  for (let w = 0; w < bestStart; w++) head.push(hex(w));
  for (let w = bestStart + bestLen; w < 8; w++) tail.push(hex(w));
  return `${head.join(':')}::${tail.join(':')}`;
}

/**
 * Formats `addr` as eight uncompressed hex words (`0:0:0:0:0:ffff:102:304`): the one form every
 * IPv6 parser accepts, used to hand an address to the maxmind reader.
 */
export function formatIpv6Full(addr: Uint8Array): string {
  let text = '';
  for (let w = 0; w < 8; w++) {
    text += (w === 0 ? '' : ':') + ((addr[w * 2]! << 8) | addr[w * 2 + 1]!).toString(16);
  }
  return text;
}
