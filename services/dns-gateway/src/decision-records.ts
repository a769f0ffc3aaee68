import { isIPv4, isIPv6 } from 'node:net';
import type { DecidedResponse } from './decisions/decision-codec.js';
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

/** Splits a decision's answers by kind of address. */
export function toDecisionRecords(response: DecidedResponse, scope: number): DecisionRecords {
  const v4: string[] = [];
  const v6: string[] = [];
  const hostNames: string[] = [];
  let ttlS = Number.POSITIVE_INFINITY;
  for (const a of response.answers) {
    if (isIPv4(a.address)) v4.push(a.address);
    else if (isIPv6(a.address)) v6.push(a.address);
    else hostNames.push(a.address);
    ttlS = Math.min(ttlS, a.ttlS);
  }
  return {
    v4,
    v6,
    hostNames,
    ttlS: Number.isFinite(ttlS) ? ttlS : 0,
    scope,
    configVersion: Number(response.configVersion),
    v4Packed: packAddresses(QType.A, v4.map(addressBytes)),
    v6Packed: packAddresses(QType.AAAA, v6.map(addressBytes)),
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
