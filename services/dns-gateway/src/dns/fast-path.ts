/**
 * The hand-written hot path for the common query shape: one question of class IN for A or AAAA,
 * no answer/authority records, and at most one OPT record (EDNS version 0) whose only option is an
 * optional Client Subnet. It reads such a query straight from the bytes and writes the positive
 * address answer straight into a buffer, skipping dns-packet's full decode and encode (together
 * a third of the handler's time in the profile).
 *
 * Contract, proven by `fast-path.spec.ts` (byte-equality and a seeded fuzz against dns-packet):
 * - {@link readSimpleQuery} returns exactly the {@link Query} `readQuery` returns for the packet,
 *   or `undefined` ("not the common shape"), after which the caller uses `readQuery`. It never
 *   decides an error itself: every malformed or unusual packet goes to the library path.
 * - {@link writeAddressReply} (a positive answer) and {@link writeNoDataReply} (NODATA with the
 *   zone's SOA) return the bytes `writeReply` would produce for the same reply, or
 *   `undefined` when the reply does not fit the size limit (the library path truncates it) or the
 *   question holds bytes the library would re-escape.
 */
import dnsPacket from 'dns-packet';
import { ECS_OPTION_CODE, EcsFormatError, parseClientSubnetAt, type ClientSubnet } from './ecs-option.js';
import type { Query } from './query-reader.js';

const TYPE_A = 1;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const MAX_NAME_WIRE = 255;
/** Scratch for a question name's text: at most 255 wire bytes, so fewer text bytes. */
const nameText = Buffer.alloc(MAX_NAME_WIRE);

/**
 * A byte that stands for itself in presentation text: printable ASCII except `.` and `\`, the
 * only bytes the library path escapes or splits on. A question made only of these is echoed and
 * re-encoded identically by dns-packet.
 */
const plainByte = (b: number): boolean => b >= 0x21 && b <= 0x7e && b !== 0x2e && b !== 0x5c;

/**
 * The common query shape read from the raw bytes, or `undefined` to use the library path.
 * Deliberately narrow: anything it does not recognise (other types or classes, compression,
 * odd bytes in labels, extra records, other EDNS options, a malformed ECS option, trailing bytes)
 * is left to `readQuery`, which decides the answer or the error.
 */
export function readSimpleQuery(buf: Uint8Array): Query | undefined {
  const n = buf.length;
  if (n < 17) return undefined;
  const b2 = buf[2]!;
  // QR=0 and opcode 0 (QUERY): the other header bits do not change what we answer.
  if ((b2 & 0xf8) !== 0) return undefined;
  // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 0 or 1.
  if (buf[4] !== 0 || buf[5] !== 1 || buf[6] !== 0 || buf[7] !== 0 || buf[8] !== 0 || buf[9] !== 0 || buf[10] !== 0 || buf[11]! > 1) return undefined;
  const arcount = buf[11]!;
  let o = 12;
  // The name's text, dots between labels, gathered as bytes and made a string once: a string
  // grown a character at a time was most of this function's cost and of the garbage per query.
  let textLen = 0;
  for (;;) {
    if (o >= n) return undefined;
    const len = buf[o++]!;
    if (len === 0) break;
    // Compression pointers and extended labels (top bits set) are the library's business.
    if (len > 63 || o + len > n || o - 12 + len > MAX_NAME_WIRE) return undefined;
    if (o > 13) nameText[textLen++] = 0x2e;
    for (let i = o; i < o + len; i++) {
      const b = buf[i]!;
      if (!plainByte(b)) return undefined;
      nameText[textLen++] = b;
    }
    o += len;
  }
  if (o + 4 > n) return undefined;
  const asked = nameText.toString('latin1', 0, textLen);
  // Printable ASCII only (plainByte), so this lowers A–Z and nothing else, as the library path does.
  const name = asked.toLowerCase();
  const qtype = (buf[o]! << 8) | buf[o + 1]!;
  const qclass = (buf[o + 2]! << 8) | buf[o + 3]!;
  if ((qtype !== TYPE_A && qtype !== TYPE_AAAA) || qclass !== CLASS_IN) return undefined;
  const questionEnd = o + 4;
  o = questionEnd;
  const id = (buf[0]! << 8) | buf[1]!;
  const rd = (b2 & 0x01) !== 0;
  if (arcount === 0) return o === n ? { id, rd, opcode: 0, question: buf.subarray(12, questionEnd), askedName: asked, name, qtype, qclass, edns: undefined } : undefined;
  // OPT: root owner (one zero byte), TYPE 41, CLASS = UDP size, TTL = ext-rcode, version, flags.
  if (o + 11 > n || buf[o] !== 0 || buf[o + 1] !== 0 || buf[o + 2] !== TYPE_OPT) return undefined;
  const udpPayloadSize = (buf[o + 3]! << 8) | buf[o + 4]!;
  const version = buf[o + 6]!;
  // A version we do not implement is BADVERS: the library path answers it.
  if (version !== 0) return undefined;
  const dnssecOk = (buf[o + 7]! & 0x80) !== 0;
  const rdlen = (buf[o + 9]! << 8) | buf[o + 10]!;
  o += 11;
  if (o + rdlen !== n) return undefined;
  let ecs: ClientSubnet | undefined;
  while (o < n) {
    if (o + 4 > n) return undefined;
    const code = (buf[o]! << 8) | buf[o + 1]!;
    const len = (buf[o + 2]! << 8) | buf[o + 3]!;
    o += 4;
    if (code !== ECS_OPTION_CODE || ecs !== undefined || o + len > n) return undefined;
    try {
      ecs = parseClientSubnetAt(buf, o, len);
    } catch (error) {
      if (error instanceof EcsFormatError) return undefined; // FORMERR, decided by the library path
      throw error;
    }
    o += len;
  }
  const edns = { udpPayloadSize: Math.max(512, udpPayloadSize), version: 0, dnssecOk, ecs };
  return { id, rd, opcode: 0, question: buf.subarray(12, questionEnd), askedName: asked, name, qtype, qclass, edns };
}

/** True when every byte of the question name stands for itself (see {@link plainByte}). */
export function isPlainQuestion(question: Uint8Array): boolean {
  let o = 0;
  for (;;) {
    if (o >= question.length) return false;
    const len = question[o++]!;
    if (len === 0) return true;
    if (len > 63 || o + len > question.length) return false;
    for (let i = o; i < o + len; i++) if (!plainByte(question[i]!)) return false;
    o += len;
  }
}

/** Answer records of one type, their RDATA already encoded (4 bytes per A, 16 per AAAA). */
export interface PackedAddresses {
  readonly type: typeof TYPE_A | typeof TYPE_AAAA;
  /** Concatenated RDATA of every record, in answer order. */
  readonly rdata: Uint8Array;
}

/** The 4- or 16-byte RDATA of addresses (IPv4 dotted quads, or IPv6 text as `node:net` accepts it). */
export function packAddresses(type: typeof TYPE_A | typeof TYPE_AAAA, addresses: readonly Uint8Array[]): PackedAddresses {
  const size = type === TYPE_A ? 4 : 16;
  const rdata = new Uint8Array(addresses.length * size);
  addresses.forEach((a, i) => rdata.set(a.subarray(0, size), i * size));
  return { type, rdata };
}

/** Options of {@link writeAddressReply} and {@link writeNoDataReply}. */
export interface AddressReplyOptions {
  ttlS: number;
  /** SCOPE PREFIX-LENGTH of the echoed ECS option; ignored when the query had none. */
  ecsScope: number | undefined;
  /** UDP payload size we advertise in our OPT record. */
  advertisedUdpBytes: number;
  /** Largest reply; `undefined` = unlimited (TCP). */
  limitBytes: number | undefined;
}

/**
 * NOERROR, AA, the question as asked, one answer per address (owner = the question name, class
 * IN, no name compression — as dns-packet writes it) and, when the query had EDNS, our OPT with
 * the ECS echo (RFC 7871 §7.2.1). `undefined` when it exceeds `limitBytes` or the question is not
 * plain: the library path then writes (and truncates) it.
 */
export function writeAddressReply(q: Query, answers: PackedAddresses, options: AddressReplyOptions): Buffer | undefined {
  const rdSize = answers.type === TYPE_A ? 4 : 16;
  const count = answers.rdata.length / rdSize;
  if (count === 0 || count > 0xffff) return undefined;
  const nameLen = q.question.length - 4;
  const out = startReply(q, count, 0, count * (nameLen + 10 + rdSize), options);
  if (!out) return undefined;
  const question = q.question;
  let o = 12 + question.length;
  const ttl = options.ttlS >>> 0;
  const rdata = answers.rdata;
  // Byte loops rather than set(subarray(…)): the name is tens of bytes and an address 4 or 16, too
  // few for a copy call to pay for the view it needs.
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < nameLen; j++) out[o + j] = question[j]!;
    o += nameLen;
    out[o] = 0;
    out[o + 1] = answers.type;
    out[o + 2] = 0;
    out[o + 3] = CLASS_IN;
    out[o + 4] = ttl >>> 24;
    out[o + 5] = (ttl >>> 16) & 0xff;
    out[o + 6] = (ttl >>> 8) & 0xff;
    out[o + 7] = ttl & 0xff;
    out[o + 8] = 0;
    out[o + 9] = rdSize;
    o += 10;
    for (let j = 0, from = i * rdSize; j < rdSize; j++) out[o + j] = rdata[from + j]!;
    o += rdSize;
  }
  writeOpt(out, o, q, options);
  return out;
}

/**
 * Where {@link writeAddressReply} puts the answers' 32-bit TTLs in a reply to a question of
 * `questionLength` bytes: the answers follow the header and question, each one the name, type,
 * class, TTL, RDLENGTH and RDATA, so the TTLs are evenly spaced.
 */
export function answerTtlLayout(questionLength: number, answers: PackedAddresses): { first: number; stride: number; count: number } {
  const rdSize = answers.type === TYPE_A ? 4 : 16;
  const nameLen = questionLength - 4;
  return { first: 12 + questionLength + nameLen + 4, stride: nameLen + 10 + rdSize, count: answers.rdata.length / rdSize };
}

/**
 * NODATA (RFC 2308 §2.2): NOERROR, AA, the question as asked, no answers, `soaRecord` (the zone's
 * SOA as dns-packet encodes it, {@link encodeRecord}) as the one authority record, and our OPT as
 * in {@link writeAddressReply}. The common reply to AAAA for a fleet of IPv4 edges, which on the
 * library path cost four times a positive answer. `undefined` when it exceeds `limitBytes` or the
 * question is not plain.
 */
export function writeNoDataReply(q: Query, soaRecord: Uint8Array, options: Omit<AddressReplyOptions, 'ttlS'>): Buffer | undefined {
  const out = startReply(q, 0, 1, soaRecord.length, options);
  if (!out) return undefined;
  const o = 12 + q.question.length;
  out.set(soaRecord, o);
  writeOpt(out, o + soaRecord.length, q, options);
  return out;
}

/**
 * One resource record as dns-packet writes it in a message: a message holding only that record,
 * past its 12-byte header (dns-packet never compresses names, so the bytes do not depend on where
 * the record sits).
 */
export function encodeRecord(record: dnsPacket.Answer): Uint8Array {
  return dnsPacket.encode({ type: 'response', id: 0, flags: 0, questions: [], answers: [], authorities: [record] }).subarray(12);
}

/** Size of our OPT record for `q` (0 without EDNS). */
function optBytes(q: Query): number {
  const ecs = q.edns?.ecs;
  return q.edns ? 11 + (ecs ? 8 + Math.ceil(ecs.sourcePrefixLength / 8) : 0) : 0;
}

/**
 * The reply's buffer with its header and question written, sized for `recordBytes` of answer and
 * authority records and our OPT; `undefined` when over `limitBytes` or the question is not plain.
 */
function startReply(q: Query, ancount: number, nscount: number, recordBytes: number, options: Omit<AddressReplyOptions, 'ttlS'>): Buffer | undefined {
  const question = q.question;
  if (!isPlainQuestion(question)) return undefined;
  const size = 12 + question.length + recordBytes + optBytes(q);
  if (options.limitBytes !== undefined && size > options.limitBytes) return undefined;
  const out = Buffer.allocUnsafe(size);
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  // QR, opcode (0 here), AA, RD as asked; RA clear, RCODE 0.
  out[2] = 0x80 | ((q.opcode & 0xf) << 3) | 0x04 | (q.rd ? 0x01 : 0);
  out[3] = 0;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(ancount, 6);
  out.writeUInt16BE(nscount, 8);
  out.writeUInt16BE(q.edns ? 1 : 0, 10);
  out.set(question, 12);
  return out;
}

/** Our OPT record at `o` when the query had EDNS, with the ECS echo (RFC 7871 §7.2.1). */
function writeOpt(out: Buffer, o: number, q: Query, options: Omit<AddressReplyOptions, 'ttlS'>): void {
  if (!q.edns) return;
  const ecs = q.edns.ecs;
  const optLen = optBytes(q);
  out[o] = 0;
  out.writeUInt16BE(TYPE_OPT, o + 1);
  out.writeUInt16BE(options.advertisedUdpBytes, o + 3);
  // Extended RCODE 0, version 0, the DO bit echoed (RFC 3225 §3).
  out.writeUInt32BE(q.edns.dnssecOk ? 0x8000 : 0, o + 5);
  out.writeUInt16BE(optLen - 11, o + 9);
  o += 11;
  if (ecs) {
    const ecsAddressLen = Math.ceil(ecs.sourcePrefixLength / 8);
    out.writeUInt16BE(ECS_OPTION_CODE, o);
    out.writeUInt16BE(4 + ecsAddressLen, o + 2);
    out.writeUInt16BE(ecs.family, o + 4);
    out[o + 6] = ecs.sourcePrefixLength;
    out[o + 7] = options.ecsScope ?? 0;
    const address = ecs.address;
    for (let i = 0; i < ecsAddressLen; i++) out[o + 8 + i] = address[i]!;
  }
}
