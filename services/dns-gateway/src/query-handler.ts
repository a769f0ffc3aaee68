import { isIPv4, isIPv6 } from 'node:net';
import { SpanAttributes, SpanNames } from '@cdn-sched/telemetry';
import { isSpanContextValid, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { Status } from 'nice-grpc';
import type { AnswerCache, CacheHit, ClientKey } from './answer-cache.js';
import type { DecisionClient } from './decisions/decision-client.js';
import { answerRecords, QType, toDecisionRecords, type DecisionRecords } from './decision-records.js';
import { subnetText } from './dns/ecs-option.js';
import { answerTtlLayout, encodeRecord, readSimpleQuery, writeAddressReply, writeNoDataReply } from './dns/fast-path.js';
import { Rcode, readQuery, type Query } from './dns/query-reader.js';
import { writeReply, type Reply, type ReplyRecord, type ReplyTo } from './dns/reply-writer.js';
import type { ApexSettings, Zone, ZoneModel } from './dns/zone-model.js';
import { createPacketCache, type PacketEntry } from './packet-cache.js';

/** How a packet arrived. */
export type Transport = 'udp' | 'tcp';

/** Where a packet came from. */
export interface PacketSource {
  readonly address: string;
}

/** What happened to one packet, for metrics. */
export interface QueryEvent {
  readonly transport: Transport;
  /** Record type asked for (number), or -1 when no question could be read. */
  readonly qtype: number;
  /** RCODE sent, or -1 when the packet was dropped. */
  readonly rcode: number;
  readonly cache: 'hit' | 'miss' | 'stale' | 'none';
  /** A hit answered from the packet cache. */
  readonly packetCache?: boolean;
  readonly truncated: boolean;
  /** Decision round trip, milliseconds (NaN without one). */
  readonly decisionMs: number;
  /** Why the packet was dropped or refused as malformed. */
  readonly problem?: string;
}

/** Options of {@link createQueryHandler}. */
export interface QueryHandlerOptions {
  /** The zones now (rebuilt when the config stream changes the domains). */
  zones: () => ZoneModel;
  apex: ApexSettings;
  /** Config version now (the SOA serial when `apex.soaSerial` is 0). */
  configVersion: () => number;
  decisions: DecisionClient;
  cache: AnswerCache<DecisionRecords>;
  /** Largest UDP reply (further capped by the requester's EDNS size; 512 without EDNS). */
  maxUdpBytes: number;
  /** TTL of answers served stale when no resolver answers, seconds. */
  staleTtlS: number;
  /**
   * Most whole UDP replies kept by query bytes in front of the answer cache (packet-cache.ts); 0
   * turns it off. Defaults to 50 000.
   */
  packetCacheMaxEntries?: number;
  /** Share of policy-name queries traced with a `cdn.dns.query` span, 0–1. Defaults to 0.01. */
  traceRatio?: number;
  onEvent?(event: QueryEvent): void;
}

/** Turns one DNS message into the reply bytes (synchronously when no decision is needed). */
export interface QueryHandler {
  handle(packet: Uint8Array, source: PacketSource, transport: Transport): Buffer | undefined | Promise<Buffer | undefined>;
  /** Replies held by the packet cache. */
  readonly packetCacheSize: number;
}

const NO_TTLS = { first: 0, stride: 0, count: 0 };

/** What a packet-cache entry was built from; it is served only while all of it still holds. */
interface PacketState {
  readonly entry: CacheHit<DecisionRecords>['entry'];
  readonly stamp: number;
  readonly client: ClientKey;
  readonly zones: ZoneModel;
  readonly configVersion: number;
}

/** An IPv4-mapped IPv6 source (`::ffff:a.b.c.d`, from a dual-stack socket) is the IPv4 client it maps. */
function clientAddress(address: string): { family: 1 | 2; text: string; bytes: Uint8Array } | undefined {
  const text = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (isIPv4(text)) return { family: 1, text, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (isIPv6(text)) return { family: 2, text, bytes: ipv6Bytes(text) };
  return undefined;
}

const tracer = trace.getTracer('cdn-sched.dns-gateway');

function ipv6Bytes(text: string): Uint8Array {
  const out = new Uint8Array(16);
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const h = parse(head);
  const t = tail === undefined ? [] : parse(tail);
  const groups = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  groups.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/**
 * The authoritative logic: zone membership, apex records, negative answers with the SOA (RFC
 * 2308), and A/AAAA/CNAME from decisions (cached by scope, stale or SERVFAIL when no resolver
 * answers within the deadline).
 */
export function createQueryHandler(options: QueryHandlerOptions): QueryHandler {
  const { apex } = options;
  const traceRatio = options.traceRatio ?? 0.01;
  const negativeTtlS = Math.min(apex.soaMinimumS, apex.apexTtlS);
  const packets = createPacketCache<PacketState>(options.packetCacheMaxEntries ?? 50_000);

  const soa = (zone: Zone, ttl: number): ReplyRecord => ({
    type: 'SOA',
    name: zone.apex,
    ttl,
    data: {
      mname: zone.soaMname,
      rname: zone.soaRname,
      serial: apex.soaSerial || options.configVersion() >>> 0,
      refresh: apex.soaRefreshS,
      retry: apex.soaRetryS,
      expire: apex.soaExpireS,
      minimum: apex.soaMinimumS,
    },
  });
  const nsHostRecords = (owner: string, qtype: number): ReplyRecord[] => {
    const out: ReplyRecord[] = [];
    for (const address of apex.nsAddresses) {
      if ((qtype === QType.A || qtype === QType.ANY) && isIPv4(address)) out.push({ type: 'A', name: owner, ttl: apex.apexTtlS, data: address });
      if ((qtype === QType.AAAA || qtype === QType.ANY) && isIPv6(address)) out.push({ type: 'AAAA', name: owner, ttl: apex.apexTtlS, data: address });
    }
    return out;
  };
  /** NOERROR with answers, or NODATA with the SOA when there are none (RFC 2308 §2.2). */
  const positive = (zone: Zone, answers: ReplyRecord[], ecsScope?: number, additionals: ReplyRecord[] = []): Reply =>
    answers.length > 0
      ? { rcode: Rcode.NOERROR, aa: true, answers, authorities: [], additionals, ecsScope }
      : { rcode: Rcode.NOERROR, aa: true, answers: [], authorities: [soa(zone, negativeTtlS)], ecsScope };
  /**
   * The NODATA authority record of `zone` as bytes, encoded once per SOA serial (the serial
   * follows the config version when it is not set).
   */
  const noDataSoa = new WeakMap<Zone, { serial: number; bytes: Uint8Array }>();
  const noDataSoaBytes = (zone: Zone): Uint8Array => {
    const serial = apex.soaSerial || options.configVersion() >>> 0;
    const known = noDataSoa.get(zone);
    if (known?.serial === serial) return known.bytes;
    const bytes = encodeRecord(soa(zone, negativeTtlS));
    noDataSoa.set(zone, { serial, bytes });
    return bytes;
  };
  const nxdomain = (zone: Zone): Reply => ({ rcode: Rcode.NXDOMAIN, aa: true, answers: [], authorities: [soa(zone, negativeTtlS)] });

  const emit = (transport: Transport, qtype: number, reply: Reply | undefined, truncated: boolean, cache: QueryEvent['cache'], decisionMs: number, problem?: string): void =>
    options.onEvent?.({ transport, qtype, rcode: reply ? reply.rcode : -1, cache, truncated, decisionMs, problem });

  const send = (to: ReplyTo, reply: Reply, transport: Transport): { bytes: Buffer; truncated: boolean } => {
    const limit = transport === 'udp' ? Math.min(options.maxUdpBytes, to.edns ? to.edns.udpPayloadSize : 512) : undefined;
    return writeReply(to, reply, { limitBytes: limit === undefined ? undefined : Math.max(512, limit), advertisedUdpBytes: options.maxUdpBytes });
  };

  const udpLimit = (q: Query): number => Math.max(512, Math.min(options.maxUdpBytes, q.edns ? q.edns.udpPayloadSize : 512));

  /**
   * The hand-written writer for the common answer (A or AAAA addresses of a decision), byte-equal
   * to the library path (`fast-path.spec.ts`), and NODATA when the decision has no address of the
   * type asked; `undefined` when the answer is anything else (a CNAME, a reply to truncate, a
   * traced query), which then goes through `finish`.
   */
  const fastFinish = (q: Query, zone: Zone, d: DecisionRecords, ttlS: number, scope: number | undefined, transport: Transport, cache: QueryEvent['cache'], decisionMs: number): Buffer | undefined => {
    const packed = q.qtype === QType.A ? d.v4Packed : q.qtype === QType.AAAA ? d.v6Packed : undefined;
    if (!packed) return undefined;
    const limitBytes = transport === 'udp' ? udpLimit(q) : undefined;
    let bytes: Buffer | undefined;
    if (packed.rdata.length > 0) bytes = writeAddressReply(q, packed, { ttlS, ecsScope: scope, advertisedUdpBytes: options.maxUdpBytes, limitBytes });
    // No address of the type asked and no host name to CNAME to: NODATA (answerRecords is empty).
    else if (d.hostNames.length === 0) bytes = writeNoDataReply(q, noDataSoaBytes(zone), { ecsScope: scope, advertisedUdpBytes: options.maxUdpBytes, limitBytes });
    else return undefined;
    if (bytes) options.onEvent?.({ transport, qtype: q.qtype, rcode: Rcode.NOERROR, cache, truncated: false, decisionMs });
    return bytes;
  };

  const finish = (q: Query, reply: Reply, transport: Transport, cache: QueryEvent['cache'], decisionMs: number, span?: Span): Buffer => {
    const out = send(q, reply, transport);
    emit(transport, q.qtype, reply, out.truncated, cache, decisionMs);
    if (span) {
      span.setAttributes({ 'cdn.dns.cache': cache, 'cdn.dns.rcode': reply.rcode, 'cdn.dns.truncated': out.truncated, 'cdn.dns.answers': reply.answers.length });
      if (reply.ecsScope !== undefined) span.setAttribute('cdn.dns.ecs_scope', reply.ecsScope);
      if (reply.rcode === Rcode.SERVFAIL) span.setStatus({ code: SpanStatusCode.ERROR, message: 'no decision within the deadline and nothing stale to serve' });
    }
    return out.bytes;
  };

  /** A sampled query gets a span; its context travels with the decision request to the batch span. */
  /** SCOPE PREFIX-LENGTH of the reply; RFC 7871 §7.2.1: scope 0 answers a SOURCE PREFIX-LENGTH 0 query. */
  const replyScope = (q: Query, records: DecisionRecords): number | undefined => {
    const ecs = q.edns?.ecs;
    return ecs === undefined ? undefined : ecs.sourcePrefixLength > 0 ? records.scope : 0;
  };

  /**
   * Untraced queries stay synchronous up to the decision: a cache hit is answered in the same
   * turn, without a Promise (one per query showed in the profile: microtask, `.then`, GC).
   */
  const traced = (q: Query, zone: Zone, consistent: boolean, source: PacketSource, transport: Transport, packet: Uint8Array | undefined, sampled: boolean | undefined): Buffer | undefined | Promise<Buffer | undefined> => {
    if (!(sampled ?? (traceRatio > 0 && Math.random() < traceRatio))) return decided(q, zone, consistent, source, transport, undefined, packet);
    const span = tracer.startSpan(SpanNames.dnsQuery, {
      kind: SpanKind.SERVER,
      attributes: { [SpanAttributes.domain]: q.name, 'cdn.dns.qtype': q.qtype, 'network.transport': transport, 'client.address': source.address },
    });
    return (async () => {
      try {
        return await decided(q, zone, consistent, source, transport, span, undefined);
      } finally {
        span.end();
      }
    })();
  };

  const decided = (q: Query, zone: Zone, consistent: boolean, source: PacketSource, transport: Transport, span: Span | undefined, packet: Uint8Array | undefined): Buffer | undefined | Promise<Buffer | undefined> => {
    const ecs = q.edns?.ecs;
    const useEcs = ecs !== undefined && ecs.sourcePrefixLength > 0;
    let client: ClientKey;
    let clientIp = '';
    if (useEcs) {
      client = { family: ecs.family, address: ecs.address, prefixLength: ecs.sourcePrefixLength };
    } else {
      // No ECS, or SOURCE PREFIX-LENGTH 0 (RFC 7871 §7.1.2: the client asks us not to use its
      // subnet): the packet's source, i.e. the recursive resolver's own address, decides.
      const addr = clientAddress(source.address);
      if (!addr) return finish(q, { rcode: Rcode.SERVFAIL, aa: true, answers: [], authorities: [] }, transport, 'none', Number.NaN, span);
      client = { family: addr.family, address: addr.bytes, prefixLength: addr.family === 1 ? 32 : 128 };
      clientIp = addr.text;
    }
    const hit = options.cache.get(q.name, q.qtype, client);
    if (hit?.fresh) {
      const d = hit.entry.value;
      const ttlS = Math.min(d.ttlS, hit.ttlLeftS);
      if (!span) {
        const fast = fastFinish(q, zone, d, ttlS, replyScope(q, d), transport, 'hit', Number.NaN);
        // A UDP answer that depends only on the query's bytes (its Client Subnet, not its source).
        if (fast && packet !== undefined && useEcs) keepPacket(packet, fast, q, client, hit);
        if (fast) return fast;
      }
      return finish(q, positive(zone, answerRecords(d, q.qtype, q.askedName, ttlS), replyScope(q, d)), transport, 'hit', Number.NaN, span);
    }
    return ask(q, zone, consistent, client, clientIp, hit, transport, span, useEcs ? packet : undefined);
  };

  const keepPacket = (packet: Uint8Array, reply: Buffer, q: Query, client: ClientKey, hit: CacheHit<DecisionRecords>): void => {
    const d = hit.entry.value;
    const packed = q.qtype === QType.A ? d.v4Packed : d.v6Packed;
    // Address answers get the TTL of the moment on every use; NODATA's SOA TTL is fixed.
    const ttls = packed.rdata.length > 0 ? answerTtlLayout(q.question.length, packed) : NO_TTLS;
    packets.store(packet, reply, ttls, d.ttlS, q.qtype, { entry: hit.entry, stamp: hit.stamp, client, zones: options.zones(), configVersion: options.configVersion() });
  };

  /**
   * The packet cache's reply to `packet`, while everything it was built from holds (the same
   * zones and config version, and its answer-cache entry still the fresh answer to the query):
   * the same bytes the handler would write now. `undefined` sends the packet the long way.
   */
  const fromPacketCache = (e: PacketEntry<PacketState>, packet: Uint8Array): Buffer | undefined => {
    const s = e.state;
    if (s.zones !== options.zones() || s.configVersion !== options.configVersion()) return undefined;
    const left = options.cache.ttlLeftS(s.entry, s.stamp, s.client);
    if (left < 0) return undefined;
    options.onEvent?.({ transport: 'udp', qtype: e.qtype, rcode: Rcode.NOERROR, cache: 'hit', packetCache: true, truncated: false, decisionMs: Number.NaN });
    return packets.replyTo(e, (packet[0]! << 8) | packet[1]!, Math.min(e.ttlCapS, left));
  };

  /** A decision over ResolveStream (the cache had no fresh answer). */
  const ask = async (q: Query, zone: Zone, consistent: boolean, client: ClientKey, clientIp: string, hit: CacheHit<DecisionRecords> | undefined, transport: Transport, span: Span | undefined, packet: Uint8Array | undefined): Promise<Buffer | undefined> => {
    const ecsSubnet = clientIp === '' ? subnetText(client.family, client.address, client.prefixLength) : '';
    const t0 = performance.now();
    if (ecsSubnet) span?.setAttribute('cdn.dns.ecs_subnet', ecsSubnet);
    // Without a tracer provider the span is a no-op with an invalid context: nothing to link.
    const spanContext = span?.spanContext();
    const outcome = await options.decisions.decide({ clientIp, ecsSubnet, domain: q.name, trace: spanContext && isSpanContextValid(spanContext) ? spanContext : undefined });
    const ms = performance.now() - t0;
    if (outcome.ok) {
      if (span && outcome.response.answers.length > 0) span.setAttribute(SpanAttributes.selectedId, outcome.response.answers[0]!.nodeId);
      // The geo block decided; a consistent pick also depends on the client /24 (/56), so its
      // answer holds for no wider a subnet than that.
      let scope = outcome.response.ecsScope;
      if (consistent) scope = Math.max(scope, Math.min(client.prefixLength, client.family === 1 ? 24 : 56));
      const records = toDecisionRecords(outcome.response, scope);
      options.cache.set(q.name, q.qtype, client, scope, records.ttlS, records.configVersion, records);
      if (!span) {
        const fast = fastFinish(q, zone, records, records.ttlS, replyScope(q, records), transport, 'miss', ms);
        if (fast && packet !== undefined) {
          // The reply a later hit would write (but for its TTLs), kept while the entry just stored
          // is what a lookup finds for this client.
          const stored = options.cache.get(q.name, q.qtype, client);
          if (stored?.fresh && stored.entry.value === records) keepPacket(packet, fast, q, client, stored);
        }
        if (fast) return fast;
      }
      return finish(q, positive(zone, answerRecords(records, q.qtype, q.askedName, records.ttlS), replyScope(q, records)), transport, 'miss', ms, span);
    }
    if (!outcome.transport && outcome.code === Status.NOT_FOUND) return finish(q, nxdomain(zone), transport, 'miss', ms, span);
    if (outcome.transport && hit) {
      // Last answer for this key, younger than the staleness bound (RFC 8767 serve-stale).
      const d = hit.entry.value;
      return finish(q, positive(zone, answerRecords(d, q.qtype, q.askedName, Math.min(d.ttlS, options.staleTtlS)), replyScope(q, d)), transport, 'stale', ms, span);
    }
    return finish(q, { rcode: Rcode.SERVFAIL, aa: false, answers: [], authorities: [] }, transport, 'miss', ms, span);
  };

  const answer = (q: Query, source: PacketSource, transport: Transport, packet?: Uint8Array, sampled?: boolean): Buffer | undefined | Promise<Buffer | undefined> => {
    if (q.qclass !== 1 && q.qclass !== 255) return finish(q, { rcode: Rcode.REFUSED, aa: false, answers: [], authorities: [] }, transport, 'none', Number.NaN);
    const match = options.zones().match(q.name);
    if (match.kind === 'outside') return finish(q, { rcode: Rcode.REFUSED, aa: false, answers: [], authorities: [] }, transport, 'none', Number.NaN);
    const { zone } = match;
    // Zone transfers are not offered: the data lives in etcd, not in zone files.
    if (q.qtype === QType.AXFR || q.qtype === QType.IXFR) return finish(q, { rcode: Rcode.REFUSED, aa: true, answers: [], authorities: [] }, transport, 'none', Number.NaN);
    const answers: ReplyRecord[] = [];
    const additionals: ReplyRecord[] = [];
    if (match.apex) {
      if (q.qtype === QType.SOA || q.qtype === QType.ANY) answers.push(soa(zone, apex.apexTtlS));
      if (q.qtype === QType.NS || q.qtype === QType.ANY) {
        for (const ns of zone.nsNames) {
          answers.push({ type: 'NS', name: q.askedName, ttl: apex.apexTtlS, data: ns });
          // Glue for in-zone name servers (RFC 1034 §4.3.2 step 3).
          if (options.zones().match(ns).kind === 'inside') additionals.push(...nsHostRecords(ns, QType.ANY));
        }
      }
      if (q.qtype === QType.SOA || q.qtype === QType.NS) return finish(q, positive(zone, answers, undefined, additionals), transport, 'none', Number.NaN);
    }
    if (match.policy && (q.qtype === QType.A || q.qtype === QType.AAAA || q.qtype === QType.CNAME || q.qtype === QType.ANY)) {
      return traced(q, zone, match.policy.consistent, source, transport, packet, sampled);
    }
    if (match.nsHost) answers.push(...nsHostRecords(q.askedName, q.qtype));
    if (match.apex || match.policy || match.nsHost || match.nonTerminal) return finish(q, positive(zone, answers, undefined, additionals), transport, 'none', Number.NaN);
    return finish(q, nxdomain(zone), transport, 'none', Number.NaN);
  };

  return {
    handle(packet, source, transport) {
      let sampled: boolean | undefined;
      if (transport === 'udp') {
        const kept = packets.find(packet);
        if (kept !== undefined) {
          // A kept reply is for a policy name: the trace sample is drawn here, once.
          sampled = traceRatio > 0 && Math.random() < traceRatio;
          const out = sampled ? undefined : fromPacketCache(kept, packet);
          if (out !== undefined) return out;
        }
      }
      // The common shape (one A/AAAA question, optional EDNS with ECS) is read from the bytes;
      // anything else, including every malformed packet, through dns-packet.
      const simple = readSimpleQuery(packet);
      if (simple) return answer(simple, source, transport, transport === 'udp' ? packet : undefined, sampled);
      const read = readQuery(packet);
      if (read.kind === 'drop') {
        emit(transport, -1, undefined, false, 'none', Number.NaN, read.reason);
        return undefined;
      }
      if (read.kind === 'error') {
        const reply: Reply = { rcode: read.rcode, aa: false, answers: [], authorities: [] };
        const out = send(read.query, reply, transport);
        emit(transport, read.query.qtype ?? -1, reply, out.truncated, 'none', Number.NaN, read.reason);
        return out.bytes;
      }
      return answer(read.query, source, transport);
    },
    get packetCacheSize() {
      return packets.size;
    },
  };
}
