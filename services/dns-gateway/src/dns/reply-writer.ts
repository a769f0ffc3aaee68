import dnsPacket from 'dns-packet';
import { addressText } from './ecs-option.js';
import type { Edns, Query } from './query-reader.js';

/** A record of a reply, as `dns-packet` encodes it. */
export type ReplyRecord = dnsPacket.Answer;

/** What to answer. */
export interface Reply {
  readonly rcode: number;
  /** Authoritative answer: set for every name inside our zones (RFC 1035 §4.1.1). */
  readonly aa: boolean;
  readonly answers: readonly ReplyRecord[];
  readonly authorities: readonly ReplyRecord[];
  readonly additionals?: readonly ReplyRecord[];
  /** SCOPE PREFIX-LENGTH of the echoed ECS option (RFC 7871 §7.2.1); ignored when the query had none. */
  readonly ecsScope?: number;
}

/** The header and question of the query a reply answers (a full {@link Query} or what could be read of it). */
export type ReplyTo = Pick<Query, 'id' | 'rd' | 'opcode'> & Partial<Pick<Query, 'question' | 'edns'>>;

/** Options of {@link writeReply}. */
export interface WriteOptions {
  /** Largest reply; a bigger one is sent as header, question and OPT with TC=1. Unlimited when undefined (TCP). */
  limitBytes?: number;
  /** UDP payload size we advertise in our OPT record (RFC 6891 §6.2.5). */
  advertisedUdpBytes: number;
}

const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;

function optRecord(edns: Edns, rcode: number, advertised: number, ecsScope: number | undefined): ReplyRecord {
  const options: dnsPacket.PacketOpt[] = [];
  if (edns.ecs) {
    // RFC 7871 §7.2.1: FAMILY, SOURCE PREFIX-LENGTH and ADDRESS echo the query; SCOPE is ours.
    options.push({
      code: 8,
      family: edns.ecs.family,
      sourcePrefixLength: edns.ecs.sourcePrefixLength,
      scopePrefixLength: ecsScope ?? 0,
      ip: addressText(edns.ecs.family, edns.ecs.address),
    } as unknown as dnsPacket.PacketOpt);
  }
  return {
    type: 'OPT',
    name: '.',
    udpPayloadSize: advertised,
    // RFC 6891 §6.1.3: the upper 8 bits of the 12-bit RCODE live in the OPT record.
    extendedRcode: rcode >> 4,
    ednsVersion: 0,
    flags: edns.dnssecOk ? 0x8000 : 0,
    options,
  } as unknown as ReplyRecord;
}

function encode(to: ReplyTo, flags: number, answers: readonly ReplyRecord[], authorities: readonly ReplyRecord[], additionals: ReplyRecord[]): Buffer {
  const body = dnsPacket.encode({
    id: to.id,
    type: 'response',
    flags,
    questions: [],
    answers: [...answers],
    authorities: [...authorities],
    additionals,
  });
  const question = to.question;
  if (!question) return body;
  // The question is spliced in from the query's bytes: dns-packet would re-encode it from text,
  // losing odd bytes, and case must come back exactly as asked. dns-packet never compresses
  // names, so nothing in `body` points at offsets the splice moves.
  const out = Buffer.allocUnsafe(body.length + question.length);
  body.copy(out, 0, 0, 12);
  out.writeUInt16BE(1, 4);
  out.set(question, 12);
  body.copy(out, 12 + question.length, 12);
  return out;
}

/**
 * Encodes `reply` to `to`: QR and AA as given, RD copied, RA clear (no recursion here), the low 4
 * bits of the RCODE in the header and the rest in OPT. When the encoded reply exceeds
 * `limitBytes`, it is sent with TC=1 and empty answer and authority sections, so the client
 * retries over TCP (RFC 1035 §4.2.1, RFC 7766 §5).
 */
export function writeReply(to: ReplyTo, reply: Reply, options: WriteOptions): { bytes: Buffer; truncated: boolean } {
  const flags = ((to.opcode & 0xf) << 11) | (reply.aa ? AA : 0) | (to.rd ? RD : 0) | (reply.rcode & 0xf);
  const additionals = [...(reply.additionals ?? [])];
  if (to.edns) additionals.push(optRecord(to.edns, reply.rcode, options.advertisedUdpBytes, reply.ecsScope));
  const full = encode(to, flags, reply.answers, reply.authorities, additionals);
  if (options.limitBytes === undefined || full.length <= options.limitBytes) return { bytes: full, truncated: false };
  const opt = to.edns ? [additionals[additionals.length - 1]!] : [];
  return { bytes: encode(to, flags | TC, [], [], opt), truncated: true };
}
