import dnsPacket from 'dns-packet';
import { ECS_OPTION_CODE, EcsFormatError, parseClientSubnet, type ClientSubnet } from './ecs-option.js';

/** Response codes we send (RFC 1035 §4.1.1; BADVERS is RFC 6891's extended 16). */
export const Rcode = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export type RcodeValue = (typeof Rcode)[keyof typeof Rcode];

/** The EDNS part of a query (RFC 6891 OPT pseudo-record). */
export interface Edns {
  /** Requester's UDP payload size; values below 512 count as 512 (RFC 6891 §6.2.3). */
  readonly udpPayloadSize: number;
  readonly version: number;
  /** DO bit (echoed, RFC 3225 §3). */
  readonly dnssecOk: boolean;
  readonly ecs: ClientSubnet | undefined;
}

/** A query the gateway answers. */
export interface Query {
  readonly id: number;
  /** Recursion desired, copied into the reply (RFC 1035 §4.1.1). */
  readonly rd: boolean;
  readonly opcode: number;
  /** The question section exactly as received: echoed byte for byte (0x20 case randomisation). */
  readonly question: Uint8Array;
  /** The name as asked (case kept), dots between labels; used as the owner of answers. */
  readonly askedName: string;
  /** Lower case, no trailing dot; odd bytes escaped (`\.`, `\DDD`), so they never match a policy. */
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  readonly edns: Edns | undefined;
}

/** What to do with a packet. */
export type ReadResult =
  | { readonly kind: 'query'; readonly query: Query }
  /** Answer with `rcode` only (and the question and OPT when they could be read). */
  | { readonly kind: 'error'; readonly rcode: RcodeValue; readonly reason: string; readonly query: Partial<Query> & { id: number; rd: boolean; opcode: number } }
  /** Not worth an answer: too short to carry an id, or itself a response (no reflection loops). */
  | { readonly kind: 'drop'; readonly reason: 'short' | 'response' };

const MAX_NAME_WIRE = 255;

interface RawQuestion {
  end: number;
  askedName: string;
  name: string;
}

/** Reads the question name at offset 12 without compression (a pointer there can only point into the header). */
function readQuestionName(buf: Uint8Array): RawQuestion | string {
  let o = 12;
  let asked = '';
  let canonical = '';
  for (;;) {
    if (o >= buf.length) return 'question name runs past the end of the packet';
    const len = buf[o++]!;
    if (len === 0) break;
    if ((len & 0xc0) !== 0) return 'compressed or extended label in the question';
    if (o + len > buf.length) return 'question label runs past the end of the packet';
    if (o - 12 + len > MAX_NAME_WIRE) return 'question name longer than 255 octets';
    if (asked !== '') {
      asked += '.';
      canonical += '.';
    }
    for (let i = o; i < o + len; i++) {
      const b = buf[i]!;
      let text: string;
      if (b === 0x2e || b === 0x5c) text = `\\${String.fromCharCode(b)}`;
      else if (b < 0x21 || b > 0x7e) text = `\\${String(b).padStart(3, '0')}`;
      else text = String.fromCharCode(b);
      asked += text;
      canonical += b >= 0x41 && b <= 0x5a ? String.fromCharCode(b + 32) : text;
    }
    o += len;
  }
  if (o + 4 > buf.length) return 'question type and class run past the end of the packet';
  return { end: o + 4, askedName: asked, name: canonical };
}

/**
 * Reads and checks a DNS query. The question is read from the raw bytes (so a label holding a dot
 * or odd bytes can never alias a policy name); the whole message is then decoded by `dns-packet`,
 * which checks counts, names and record lengths; anything it refuses is FORMERR.
 */
export function readQuery(buf: Uint8Array): ReadResult {
  if (buf.length < 12) return { kind: 'drop', reason: 'short' };
  const flags = (buf[2]! << 8) | buf[3]!;
  if ((flags & 0x8000) !== 0) return { kind: 'drop', reason: 'response' };
  const id = (buf[0]! << 8) | buf[1]!;
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const qdcount = (buf[4]! << 8) | buf[5]!;
  const base = { id, rd, opcode };
  const q = qdcount === 1 ? readQuestionName(buf) : undefined;
  const partial = typeof q === 'object' ? { ...base, question: buf.subarray(12, q.end) } : base;
  // RFC 1035 §4.1.1: a kind of query we do not implement is NOTIMP, whatever else it carries.
  if (opcode !== 0) return { kind: 'error', rcode: Rcode.NOTIMP, reason: `opcode ${opcode}`, query: partial };
  if (qdcount !== 1) return { kind: 'error', rcode: Rcode.FORMERR, reason: `${qdcount} questions (exactly 1 allowed, RFC 9619)`, query: base };
  if (q === undefined || typeof q === 'string') return { kind: 'error', rcode: Rcode.FORMERR, reason: q ?? 'no question', query: base };
  let packet: dnsPacket.Packet;
  try {
    packet = dnsPacket.decode(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength));
  } catch (error) {
    return { kind: 'error', rcode: Rcode.FORMERR, reason: `undecodable: ${(error as Error).message}`, query: partial };
  }
  const qtype = (buf[q.end - 4]! << 8) | buf[q.end - 3]!;
  const qclass = (buf[q.end - 2]! << 8) | buf[q.end - 1]!;
  const query = { ...partial, question: buf.subarray(12, q.end), askedName: q.askedName, name: q.name, qtype, qclass };

  const opts = (packet.additionals ?? []).filter((r) => r.type === 'OPT') as dnsPacket.OptAnswer[];
  if (opts.length === 0) return { kind: 'query', query: { ...query, edns: undefined } };
  const opt = opts[0]!;
  const raw = opt as unknown as { ednsVersion: number; flags: number; udpPayloadSize: number; options: { code: number; data: Buffer }[] };
  const ednsBase = { udpPayloadSize: Math.max(512, raw.udpPayloadSize), version: raw.ednsVersion, dnssecOk: (raw.flags & 0x8000) !== 0, ecs: undefined };
  // RFC 6891 §6.1.1: more than one OPT, or an OPT not owned by the root, is FORMERR.
  if (opts.length > 1) return { kind: 'error', rcode: Rcode.FORMERR, reason: 'more than one OPT record', query: { ...query, edns: ednsBase } };
  if (opt.name !== '.' && opt.name !== '') return { kind: 'error', rcode: Rcode.FORMERR, reason: 'OPT record not owned by the root', query: { ...query, edns: ednsBase } };
  // RFC 6891 §6.1.3: a version we do not implement is BADVERS (we implement 0).
  if (raw.ednsVersion > 0) return { kind: 'error', rcode: Rcode.BADVERS, reason: `EDNS version ${raw.ednsVersion}`, query: { ...query, edns: ednsBase } };
  let ecs: ClientSubnet | undefined;
  for (const option of raw.options) {
    if (option.code !== ECS_OPTION_CODE) continue;
    try {
      if (ecs) throw new EcsFormatError('more than one ECS option');
      ecs = parseClientSubnet(option.data);
    } catch (error) {
      if (!(error instanceof EcsFormatError)) throw error;
      return { kind: 'error', rcode: Rcode.FORMERR, reason: error.message, query: { ...query, edns: ednsBase } };
    }
  }
  return { kind: 'query', query: { ...query, edns: { ...ednsBase, ecs } } };
}
