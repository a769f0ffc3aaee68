/** EDNS option code of Client Subnet (RFC 7871 §6). */
export const ECS_OPTION_CODE = 8;

/** A valid EDNS Client Subnet option of a query. */
export interface ClientSubnet {
  /** Address family as on the wire: 1 IPv4, 2 IPv6. */
  readonly family: 1 | 2;
  readonly sourcePrefixLength: number;
  /** The address, padded with zeros to 4 or 16 bytes. */
  readonly address: Uint8Array;
}

/** Why an ECS option is malformed (the query is answered FORMERR, RFC 7871 §7.1.1). */
export class EcsFormatError extends Error {
  override readonly name = 'EcsFormatError';
}

/**
 * Checks the option data of an ECS option the way RFC 7871 §6 and §7.1.1 ask: a known FAMILY, a
 * SOURCE PREFIX-LENGTH the family allows, exactly ceil(source / 8) ADDRESS octets, and no address
 * bit set past the prefix. (SCOPE PREFIX-LENGTH must be 0 in queries; a non-zero one is ignored, as
 * BIND and gdnsd do, since the answer's scope is ours to set.)
 *
 * @throws EcsFormatError naming the problem.
 */
export function parseClientSubnet(data: Uint8Array): ClientSubnet {
  return parseClientSubnetAt(data, 0, data.length);
}

/**
 * {@link parseClientSubnet} of the `length` option bytes at `offset` of `buf`, read in place (the
 * fast path reads options straight from the packet; a view per option was garbage per query).
 *
 * @throws EcsFormatError naming the problem.
 */
export function parseClientSubnetAt(buf: Uint8Array, offset: number, length: number): ClientSubnet {
  if (length < 4) throw new EcsFormatError(`ECS option of ${length} bytes: at least 4 needed`);
  const family = (buf[offset]! << 8) | buf[offset + 1]!;
  if (family !== 1 && family !== 2) throw new EcsFormatError(`ECS family ${family}: only 1 (IPv4) and 2 (IPv6) are defined`);
  const maxBits = family === 1 ? 32 : 128;
  const source = buf[offset + 2]!;
  if (source > maxBits) throw new EcsFormatError(`ECS source prefix /${source} is longer than ${maxBits} bits`);
  const octets = Math.ceil(source / 8);
  if (length - 4 !== octets) throw new EcsFormatError(`ECS address of ${length - 4} octets for a /${source} prefix: exactly ${octets} expected`);
  const address = new Uint8Array(maxBits / 8);
  for (let i = 0; i < octets; i++) address[i] = buf[offset + 4 + i]!;
  if (source % 8 !== 0) {
    const last = address[octets - 1]!;
    const mask = 0xff >> (source % 8);
    if ((last & mask) !== 0) throw new EcsFormatError(`ECS address has bits set past its /${source} prefix`);
  }
  return { family, sourcePrefixLength: source, address };
}

/** `address/prefix` text of a subnet, as the resolver's `ecs_subnet` takes it. */
export function subnetText(family: 1 | 2, address: Uint8Array, prefixLength: number): string {
  return `${addressText(family, address)}/${prefixLength}`;
}

/** Presentation text of a 4- or 16-byte address (IPv6 uncompressed: every parser takes it). */
export function addressText(family: 1 | 2, address: Uint8Array): string {
  if (family === 1) return `${address[0]}.${address[1]}.${address[2]}.${address[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((address[i]! << 8) | address[i + 1]!).toString(16));
  return groups.join(':');
}

/** `address` with every bit past `prefixLength` cleared (a copy). */
export function maskAddress(address: Uint8Array, prefixLength: number): Uint8Array {
  const out = new Uint8Array(address.length);
  const whole = prefixLength >> 3;
  out.set(address.subarray(0, whole));
  if (prefixLength % 8 !== 0 && whole < address.length) out[whole] = address[whole]! & (0xff << (8 - (prefixLength % 8)));
  return out;
}

/**
 * The 4 or 16 bytes of an IPv4 dotted quad or an IPv6 address (`::` and an embedded IPv4 tail
 * allowed); the inverse of {@link addressText}. The caller has checked the text with `node:net`.
 */
export function addressBytes(text: string): Uint8Array {
  if (!text.includes(':')) return Uint8Array.from(text.split('.').map(Number));
  const out = new Uint8Array(16);
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // An IPv4 tail (`::ffff:1.2.3.4`) is the last two groups.
    const v4 = text.slice(lastColon + 1).split('.').map(Number);
    hex = `${text.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const [head, rest] = hex.includes('::') ? (hex.split('::') as [string, string]) : [hex, undefined];
  const h = parse(head);
  const t = rest === undefined ? [] : parse(rest);
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}
