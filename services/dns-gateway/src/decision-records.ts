import { isIPv4, isIPv6 } from 'node:net';
import type { DecidedAnswer, DecidedResponse } from './decisions/decision-codec.js';
import { addressBytes } from './dns/ecs-option.js';
import { packAddresses, type PackedAddresses } from './dns/fast-path.js';
import type { ReplyRecord } from './dns/reply-writer.js';

/** Record types the gateway answers from decisions. */
export const QType = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;

/** A decision reduced to what DNS answers need (what the answer cache keeps). */
export interface DecisionRecords {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  /** Answers whose node address is a host name, in the decision's order. */
  readonly hostNames: readonly string[];
  /** The smallest answer TTL, seconds. */
  readonly ttlS: number;
  /** The EDNS client-subnet scope of the decision. */
  readonly scope: number;
  readonly configVersion: number;
  /** `v4` and `v6` as encoded RDATA, made once per decision so a cache hit copies bytes. */
  readonly v4Packed: PackedAddresses;
  readonly v6Packed: PackedAddresses;
}

/** What a node address is, and its RDATA bytes when it is an IP address. */
interface AddressKind {
  readonly family: 4 | 6 | 0;
  readonly bytes: Uint8Array | undefined;
}

/**
 * Address text → kind and bytes, remembered: node addresses are few and come back in every
 * decision, and parsing them was most of the cost of turning a decision into records. Forgotten
 * all at once past {@link ADDRESS_MEMO_MAX} entries (fleets are far smaller).
 */
const addressMemo = new Map<string, AddressKind>();
const ADDRESS_MEMO_MAX = 100_000;

function addressKind(address: string): AddressKind {
  let known = addressMemo.get(address);
  if (known) return known;
  if (isIPv4(address)) known = { family: 4, bytes: addressBytes(address) };
  else if (isIPv6(address)) known = { family: 6, bytes: addressBytes(address) };
  else known = { family: 0, bytes: undefined };
  if (addressMemo.size >= ADDRESS_MEMO_MAX) addressMemo.clear();
  addressMemo.set(address, known);
  return known;
}

/** What a decision's answers reduce to, given only their addresses in order: shared by every decision with that sequence. */
interface RecordSet {
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  readonly hostNames: readonly string[];
  readonly v4Packed: PackedAddresses;
  readonly v6Packed: PackedAddresses;
}

/** A node of the record-set memo: the set for the addresses on the path to it, and longer paths. */
interface RecordSetNode {
  set: RecordSet | undefined;
  readonly next: Map<string, RecordSetNode>;
}

/**
 * Record sets by address sequence, a trie keyed one address at a time: a fleet's decisions repeat
 * a few sequences (the healthy nodes of each group), and building a set — five arrays and two RDATA
 * buffers — was most of the garbage of a decision (a young-generation collection every ~1,000
 * decisions, each pausing the gateway for milliseconds). A lookup allocates nothing. Forgotten all
 * at once past {@link RECORD_SET_MEMO_MAX} sets.
 */
let recordSetRoot: RecordSetNode = { set: undefined, next: new Map() };
let recordSetCount = 0;
const RECORD_SET_MEMO_MAX = 50_000;

function recordSet(answers: readonly DecidedAnswer[]): RecordSet {
  let node = recordSetRoot;
  for (let i = 0; i < answers.length; i++) {
    const address = answers[i]!.address;
    let child = node.next.get(address);
    if (!child) {
      if (recordSetCount >= RECORD_SET_MEMO_MAX) {
        recordSetRoot = { set: undefined, next: new Map() };
        recordSetCount = 0;
        return recordSet(answers);
      }
      child = { set: undefined, next: new Map() };
      node.next.set(address, child);
    }
    node = child;
  }
  if (!node.set) {
    node.set = buildRecordSet(answers);
    recordSetCount++;
  }
  return node.set;
}

function buildRecordSet(answers: readonly DecidedAnswer[]): RecordSet {
  const v4: string[] = [];
  const v6: string[] = [];
  const v4Bytes: Uint8Array[] = [];
  const v6Bytes: Uint8Array[] = [];
  const hostNames: string[] = [];
  for (const a of answers) {
    const kind = addressKind(a.address);
    if (kind.family === 4) {
      v4.push(a.address);
      v4Bytes.push(kind.bytes!);
    } else if (kind.family === 6) {
      v6.push(a.address);
      v6Bytes.push(kind.bytes!);
    } else hostNames.push(a.address);
  }
  return { v4, v6, hostNames, v4Packed: packAddresses(QType.A, v4Bytes), v6Packed: packAddresses(QType.AAAA, v6Bytes) };
}

/** Splits a decision's answers by kind of address (the arrays and RDATA are shared between decisions with the same addresses: never modified). */
export function toDecisionRecords(response: DecidedResponse, scope: number): DecisionRecords {
  const set = recordSet(response.answers);
  let ttlS = Number.POSITIVE_INFINITY;
  for (const a of response.answers) ttlS = Math.min(ttlS, a.ttlS);
  return {
    v4: set.v4,
    v6: set.v6,
    hostNames: set.hostNames,
    ttlS: Number.isFinite(ttlS) ? ttlS : 0,
    scope,
    configVersion: Number(response.configVersion),
    v4Packed: set.v4Packed,
    v6Packed: set.v6Packed,
  };
}

/**
 * The answer records for `qtype`. How host-name nodes combine with address nodes: a name may
 * own a CNAME and nothing else (RFC 1034 §3.6.2, RFC 2181 §10.1), so
 * - A (AAAA) gets every IPv4 (IPv6) answer of the decision; only when there is none does it get
 *   one CNAME, to the first host-name answer (the decision's first choice among them);
 * - CNAME gets that CNAME when the decision has a host-name answer;
 * - ANY (RFC 8482 lets us answer a subset) gets the A and AAAA records, or the CNAME alone;
 * - an empty list is NODATA.
 */
export function answerRecords(d: DecisionRecords, qtype: number, owner: string, ttlS: number): ReplyRecord[] {
  const cname = (): ReplyRecord[] => (d.hostNames.length > 0 ? [{ type: 'CNAME', name: owner, ttl: ttlS, data: d.hostNames[0]! }] : []);
  const a = (): ReplyRecord[] => d.v4.map((ip) => ({ type: 'A', name: owner, ttl: ttlS, data: ip }));
  const aaaa = (): ReplyRecord[] => d.v6.map((ip) => ({ type: 'AAAA', name: owner, ttl: ttlS, data: ip }));
  switch (qtype) {
    case QType.A:
      return d.v4.length > 0 ? a() : cname();
    case QType.AAAA:
      return d.v6.length > 0 ? aaaa() : cname();
    case QType.CNAME:
      return cname();
    case QType.ANY: {
      const both = [...a(), ...aaaa()];
      return both.length > 0 ? both : cname();
    }
    default:
      return [];
  }
}
