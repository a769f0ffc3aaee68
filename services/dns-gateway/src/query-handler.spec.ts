import { create } from '@bufbuild/protobuf';
import { ResolveResponseSchema } from '@cdn-sched/proto';
import dnsPacket from 'dns-packet';
import { Status } from 'nice-grpc';
import { describe, expect, it } from 'vitest';
import { createAnswerCache } from './answer-cache.js';
import type { DecisionClient, DecisionOutcome, DecisionQuery } from './decisions/decision-client.js';
import { toDecisionRecords, type DecisionRecords } from './decision-records.js';
import { createZoneModel, type ApexSettings } from './dns/zone-model.js';
import { createQueryHandler, type QueryEvent } from './query-handler.js';

const apex: ApexSettings = { nsNames: ['ns1'], nsAddresses: ['127.0.0.1'], soaRname: 'hostmaster', soaSerial: 0, soaRefreshS: 3600, soaRetryS: 600, soaExpireS: 86400, soaMinimumS: 30, apexTtlS: 3600 };
const zones = createZoneModel({
  policies: [
    { name: 'music.demo.example', consistent: false },
    { name: 'video.demo.example', consistent: true },
    { name: 'many.demo.example', consistent: false },
    { name: 'cdn.deep.demo.example', consistent: false },
  ],
  explicitZones: [],
  apex,
});

/** A scripted decision source (pure logic under test; the real stream is tested in the integration test). */
function scripted(answer: (q: DecisionQuery) => DecisionOutcome | 'hang'): DecisionClient & { asked: DecisionQuery[] } {
  const asked: DecisionQuery[] = [];
  return {
    asked,
    target: 'scripted',
    pending: 0,
    decide(q) {
      asked.push(q);
      const a = answer(q);
      if (a === 'hang') return Promise.resolve({ ok: false, code: Status.DEADLINE_EXCEEDED, message: 'deadline', transport: true });
      return Promise.resolve(a);
    },
    close: () => Promise.resolve(),
  };
}
const decision = (addresses: string[], ecsScope: number, ttlS = 60): DecisionOutcome => ({
  ok: true,
  response: create(ResolveResponseSchema, { answers: addresses.map((address, i) => ({ nodeId: `n${i}`, address, port: 443, ttlS })), ecsScope, configVersion: 9n }),
});

function setup(answer: (q: DecisionQuery) => DecisionOutcome | 'hang', maxUdpBytes = 1232) {
  const decisions = scripted(answer);
  const events: QueryEvent[] = [];
  let t = 0;
  const cache = createAnswerCache<DecisionRecords>({ now: () => t, staleMs: 30_000 });
  // traceRatio 0: a sampled query would carry its span context to the decision (query-tracing.int.spec.ts covers that).
  const handler = createQueryHandler({ zones: () => zones, apex, configVersion: () => 9, decisions, cache, maxUdpBytes, staleTtlS: 5, traceRatio: 0, onEvent: (e) => events.push(e) });
  const ask = async (packet: Buffer, transport: 'udp' | 'tcp' = 'udp', address = '203.0.113.9') => {
    const out = await handler.handle(packet, { address }, transport);
    return out === undefined ? undefined : { raw: out, msg: dnsPacket.decode(out) };
  };
  return { decisions, events, ask, advance: (ms: number) => (t += ms) };
}
const q = (name: string, type: dnsPacket.RecordType = 'A', opt?: { ecs?: number[]; udp?: number }): Buffer =>
  dnsPacket.encode({
    id: 77,
    type: 'query',
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals: opt
      ? [{ type: 'OPT', name: '.', udpPayloadSize: opt.udp ?? 1232, flags: 0, options: opt.ecs ? [{ code: 8, data: Buffer.from(opt.ecs) }] : [] } as unknown as dnsPacket.Answer]
      : [],
  });
const rcode = (m: dnsPacket.Packet): string | undefined => (m as unknown as { rcode: string }).rcode;
const ecsOf = (m: dnsPacket.Packet) => ((m.additionals ?? []).find((r) => r.type === 'OPT') as unknown as { options: { code: number; sourcePrefixLength: number; scopePrefixLength: number; ip: string; family: number }[] } | undefined)?.options.find((o) => o.code === 8);

describe('query handler', () => {
  it('answers A from the decision with AA, no RA, RD echoed, the question as asked, and the ECS scope from the decision', async () => {
    const { ask, decisions } = setup(() => decision(['127.0.0.11'], 21));
    const r = (await ask(q('MUSIC.demo.Example', 'A', { ecs: [0, 1, 24, 0, 1, 0, 8] })))!;
    expect(rcode(r.msg)).toBe('NOERROR');
    expect(r.msg.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
    expect(r.msg.flags! & dnsPacket.RECURSION_AVAILABLE).toBe(0);
    expect(r.msg.flags! & dnsPacket.RECURSION_DESIRED).toBeTruthy();
    expect(r.msg.questions![0]!.name).toBe('MUSIC.demo.Example');
    expect(r.msg.answers).toEqual([expect.objectContaining({ type: 'A', name: 'MUSIC.demo.Example', data: '127.0.0.11', ttl: 60 })]);
    expect(ecsOf(r.msg)).toMatchObject({ family: 1, sourcePrefixLength: 24, scopePrefixLength: 21, ip: '1.0.8.0' });
    expect(decisions.asked).toEqual([{ clientIp: '', ecsSubnet: '1.0.8.0/24', domain: 'music.demo.example' }]);
  });

  it('uses the packet source without ECS (no ECS in the reply), and with source prefix 0 (scope 0)', async () => {
    const { ask, decisions } = setup(() => decision(['127.0.0.11'], 16));
    const plain = (await ask(q('music.demo.example', 'A', {})))!;
    expect(ecsOf(plain.msg)).toBeUndefined();
    const zero = (await ask(q('music.demo.example', 'AAAA', { ecs: [0, 1, 0, 0] })))!;
    expect(ecsOf(zero.msg)).toMatchObject({ sourcePrefixLength: 0, scopePrefixLength: 0 });
    expect(decisions.asked.map((a) => a.clientIp)).toEqual(['203.0.113.9', '203.0.113.9']);
    expect(decisions.asked.map((a) => a.ecsSubnet)).toEqual(['', '']);
  });

  it('echoes an IPv6 ECS option (family 2) with the decided scope; IPv6 source prefix 0 decides on the packet source, scope 0', async () => {
    const { ask, decisions } = setup(() => decision(['2001:db8::11'], 48));
    const r = (await ask(q('music.demo.example', 'AAAA', { ecs: [0, 2, 40, 0, 0x20, 0x01, 0x0d, 0xb8, 0x12] })))!;
    expect(r.msg.answers).toMatchObject([{ type: 'AAAA', data: '2001:db8::11' }]);
    expect(ecsOf(r.msg)).toMatchObject({ family: 2, sourcePrefixLength: 40, scopePrefixLength: 48, ip: '2001:db8:1200::' });
    expect(decisions.asked[0]).toMatchObject({ clientIp: '', ecsSubnet: '2001:db8:1200:0:0:0:0:0/40' });
    const zero = (await ask(q('music.demo.example', 'AAAA', { ecs: [0, 2, 0, 0] }), 'udp', '2001:db8:ffff::1'))!;
    expect(ecsOf(zero.msg)).toMatchObject({ family: 2, sourcePrefixLength: 0, scopePrefixLength: 0 });
    expect(decisions.asked[1]).toMatchObject({ clientIp: '2001:db8:ffff::1', ecsSubnet: '' });
    // An IPv4 resolver sending an IPv6 /0 option: still its own address, scope 0.
    const mixed = (await ask(q('music.demo.example', 'A', { ecs: [0, 2, 0, 0] }), 'udp', '198.51.100.7'))!;
    expect(ecsOf(mixed.msg)).toMatchObject({ family: 2, sourcePrefixLength: 0, scopePrefixLength: 0 });
    expect(decisions.asked[2]).toMatchObject({ clientIp: '198.51.100.7', ecsSubnet: '' });
  });

  it('answers FORMERR to every malformed ECS option, without asking for a decision', async () => {
    const { ask, decisions } = setup(() => decision(['127.0.0.11'], 21));
    const bad: Record<string, number[]> = {
      'family 0': [0, 0, 24, 0, 1, 0, 8],
      'family 3': [0, 3, 24, 0, 1, 0, 8],
      'IPv4 /33': [0, 1, 33, 0, 1, 0, 8, 0, 0],
      'IPv6 /129': [0, 2, 129, 0, ...new Array<number>(17).fill(0)],
      'IPv4 bit past /23': [0, 1, 23, 0, 1, 0, 9],
      'IPv6 bit past /20': [0, 2, 20, 0, 0x20, 0x01, 0x0d],
      'address octets with /0': [0, 1, 0, 0, 1],
      'option shorter than 4 bytes': [0, 1, 24],
    };
    for (const [what, ecs] of Object.entries(bad)) {
      const r = (await ask(q('music.demo.example', 'A', { ecs })))!;
      expect(rcode(r.msg), what).toBe('FORMERR');
      expect(r.msg.id, what).toBe(77);
    }
    expect(decisions.asked).toEqual([]);
  });

  it('serves repeat questions inside the scope from the cache, with the TTL counted down', async () => {
    const { ask, decisions, events, advance } = setup(() => decision(['127.0.0.11'], 21));
    await ask(q('music.demo.example', 'A', { ecs: [0, 1, 24, 0, 1, 0, 8] }));
    advance(10_000);
    const again = (await ask(q('music.demo.example', 'A', { ecs: [0, 1, 24, 0, 1, 0, 15] })))!;
    expect(again.msg.answers![0]).toMatchObject({ ttl: 50 });
    expect(ecsOf(again.msg)).toMatchObject({ scopePrefixLength: 21, ip: '1.0.15.0' });
    expect(decisions.asked).toHaveLength(1);
    await ask(q('music.demo.example', 'A', { ecs: [0, 1, 24, 0, 1, 0, 16] }));
    expect(decisions.asked).toHaveLength(2);
    expect(events.map((e) => e.cache)).toEqual(['miss', 'hit', 'miss']);
  });

  it('widens the scope of a consistent policy to the client /24', async () => {
    const { ask } = setup(() => decision(['127.0.0.11', '127.0.0.12'], 16));
    const r = (await ask(q('video.demo.example', 'A', { ecs: [0, 1, 24, 0, 1, 0, 8] })))!;
    expect(ecsOf(r.msg)?.scopePrefixLength).toBe(24);
  });

  it('serves stale within the bound when no resolver answers, then SERVFAIL', async () => {
    let up = true;
    const { ask, advance, events } = setup(() => (up ? decision(['127.0.0.11'], 21, 10) : 'hang'));
    await ask(q('music.demo.example', 'A', {}));
    up = false;
    advance(15_000);
    const stale = (await ask(q('music.demo.example', 'A', {})))!;
    expect(rcode(stale.msg)).toBe('NOERROR');
    expect(stale.msg.answers![0]).toMatchObject({ data: '127.0.0.11', ttl: 5 });
    advance(30_000);
    const fail = (await ask(q('music.demo.example', 'A', {})))!;
    expect(rcode(fail.msg)).toBe('SERVFAIL');
    expect(events.map((e) => e.cache)).toEqual(['miss', 'stale', 'miss']);
  });

  it('answers CNAME for host-name nodes when the family has no address answer', async () => {
    const { ask } = setup(() => decision(['edge-7.cdn.example.net', '127.0.0.11'], 21));
    const a = (await ask(q('music.demo.example', 'A')))!;
    expect(a.msg.answers!.map((r) => r.type)).toEqual(['A']);
    const aaaa = (await ask(q('music.demo.example', 'AAAA')))!;
    expect(aaaa.msg.answers).toEqual([expect.objectContaining({ type: 'CNAME', data: 'edge-7.cdn.example.net' })]);
  });

  it('answers SOA and NS at the apex, glue for the in-zone NS, NXDOMAIN and NODATA with the SOA (negative TTL = minimum)', async () => {
    const { ask, decisions } = setup(() => decision(['127.0.0.11'], 21));
    const soa = (await ask(q('demo.example', 'SOA')))!;
    expect(soa.msg.answers![0]).toMatchObject({ type: 'SOA', name: 'demo.example', data: { mname: 'ns1.demo.example', rname: 'hostmaster.demo.example', serial: 9, minimum: 30 } });
    const ns = (await ask(q('demo.example', 'NS')))!;
    expect(ns.msg.answers![0]).toMatchObject({ type: 'NS', data: 'ns1.demo.example' });
    expect(ns.msg.additionals).toEqual([expect.objectContaining({ type: 'A', name: 'ns1.demo.example', data: '127.0.0.1' })]);
    const nx = (await ask(q('nope.demo.example')))!;
    expect(rcode(nx.msg)).toBe('NXDOMAIN');
    expect(nx.msg.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
    expect(nx.msg.authorities![0]).toMatchObject({ type: 'SOA', ttl: 30 });
    for (const [name, type] of [['music.demo.example', 'MX'], ['demo.example', 'A'], ['deep.demo.example', 'A']] as const) {
      const nodata = (await ask(q(name, type)))!;
      expect(rcode(nodata.msg)).toBe('NOERROR');
      expect(nodata.msg.answers).toEqual([]);
      expect(nodata.msg.authorities![0]).toMatchObject({ type: 'SOA', ttl: 30 });
    }
    expect(rcode((await ask(q('below.music.demo.example')))!.msg)).toBe('NXDOMAIN');
    expect(decisions.asked).toHaveLength(0);
  });

  it('answers AAAA for an IPv4-only decision with NODATA (SOA, negative TTL, serial of the config version now, ECS echoed), decided and cached', async () => {
    let version = 9;
    const events: QueryEvent[] = [];
    const decisions = scripted(() => decision(['127.0.0.11'], 21));
    const cache = createAnswerCache<DecisionRecords>();
    const handler = createQueryHandler({ zones: () => zones, apex, configVersion: () => version, decisions, cache, maxUdpBytes: 1232, staleTtlS: 5, traceRatio: 0, onEvent: (e) => events.push(e) });
    const ask = async (): Promise<dnsPacket.Packet> => dnsPacket.decode((await handler.handle(q('Music.demo.example', 'AAAA', { ecs: [0, 1, 24, 0, 1, 0, 8] }), { address: '203.0.113.9' }, 'udp'))!);
    for (const serial of [9, 9, 12]) {
      version = serial;
      const nodata = await ask();
      expect(rcode(nodata)).toBe('NOERROR');
      expect(nodata.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
      expect(nodata.questions).toEqual([{ name: 'Music.demo.example', type: 'AAAA', class: 'IN' }]);
      expect(nodata.answers).toEqual([]);
      expect(nodata.authorities).toEqual([expect.objectContaining({ type: 'SOA', name: 'demo.example', ttl: 30, data: expect.objectContaining({ serial, minimum: 30 }) })]);
      const opt = nodata.additionals!.find((r) => r.type === 'OPT') as unknown as { options: { sourcePrefixLength: number; scopePrefixLength: number }[] };
      expect(opt.options[0]).toMatchObject({ sourcePrefixLength: 24, scopePrefixLength: 21 });
    }
    expect(decisions.asked).toHaveLength(1);
    expect(events.map((e) => [e.rcode, e.cache])).toEqual([[0, 'miss'], [0, 'hit'], [0, 'hit']]);
  });

  it('refuses names outside the zones, other classes and zone transfers; NOTIMP, BADVERS, FORMERR', async () => {
    const { ask } = setup(() => decision(['127.0.0.11'], 21));
    const refused = (await ask(q('example.com')))!;
    expect(rcode(refused.msg)).toBe('REFUSED');
    expect(refused.msg.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBe(0);
    expect(rcode((await ask(q('demo.example', 'AXFR')))!.msg)).toBe('REFUSED');
    const notify = Buffer.from(q('demo.example', 'SOA'));
    notify[2] = (notify[2]! & 0x87) | (4 << 3);
    expect(rcode((await ask(notify))!.msg)).toBe('NOTIMP');
    const v1 = dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'music.demo.example' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, ednsVersion: 1, flags: 0, options: [] } as unknown as dnsPacket.Answer] });
    const badvers = (await ask(v1))!;
    const opt = badvers.msg.additionals!.find((r) => r.type === 'OPT') as unknown as { extendedRcode: number };
    expect([badvers.msg.flags! & 0xf, opt.extendedRcode]).toEqual([0, 1]); // 16 = 1 << 4 | 0
    expect(rcode((await ask(q('music.demo.example', 'A', { ecs: [0, 1, 23, 0, 1, 0, 9] })))!.msg)).toBe('FORMERR');
  });

  it('truncates a UDP reply that does not fit (TC=1, empty answer) and sends it whole over TCP', async () => {
    const many = Array.from({ length: 120 }, (_, i) => `127.0.${1 + (i >> 8)}.${i & 0xff}`);
    const { ask, events } = setup(() => decision(many, 21));
    const udp = (await ask(q('many.demo.example', 'A', {})))!;
    expect(udp.msg.flags! & dnsPacket.TRUNCATED_RESPONSE).toBeTruthy();
    expect(udp.msg.answers).toEqual([]);
    expect(udp.raw.length).toBeLessThanOrEqual(1232);
    const small = (await ask(q('many.demo.example', 'A')))!; // no EDNS: 512
    expect(small.raw.length).toBeLessThanOrEqual(512);
    const tcp = (await ask(q('many.demo.example', 'A', {}), 'tcp'))!;
    expect(tcp.msg.flags! & dnsPacket.TRUNCATED_RESPONSE).toBe(0);
    expect(tcp.msg.answers).toHaveLength(120);
    expect(events.filter((e) => e.truncated)).toHaveLength(2);
  });
});

describe('query handler, packet cache', () => {
  /** A seeded generator (deterministic runs; FUZZ_SEED varies it). */
  const rng = (seed: number) => () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;

  it('answers byte-for-byte what the long way writes, through expiry, narrower scopes stored later, config and zone changes (seeded model)', async () => {
    const random = rng(Number(process.env['FUZZ_SEED'] ?? 7));
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    let t = 0;
    let version = 9;
    const withVideo = zones;
    const withoutVideo = createZoneModel({ policies: [{ name: 'music.demo.example', consistent: false }, { name: 'many.demo.example', consistent: false }], explicitZones: [], apex });
    let model = withVideo;
    const cache = createAnswerCache<DecisionRecords>({ now: () => t, staleMs: 30_000 });
    // The decided scope and the edges depend on the subnet asked, so one (name, type) holds
    // entries of several lengths; IPv4 edges only for every third /24, so AAAA is often NODATA.
    const decide = (q: DecisionQuery): DecisionOutcome => {
      const third = Number((q.ecsSubnet || q.clientIp).split('/')[0]!.split('.')[2] ?? 0);
      const addresses = third % 3 === 0 ? ['127.0.0.11', '2001:db8::11'] : third % 3 === 1 ? ['127.0.0.12'] : ['127.0.0.13', '127.0.0.14'];
      const ttlS = third % 2 === 0 ? 30 : 60;
      return { ok: true, response: create(ResolveResponseSchema, { answers: addresses.map((address, i) => ({ nodeId: `n${i}`, address, port: 443, ttlS })), ecsScope: [16, 20, 24][third % 3]!, configVersion: BigInt(version) }) };
    };
    let packetHits = 0;
    const common = { zones: () => model, apex, configVersion: () => version, decisions: scripted(decide), cache, maxUdpBytes: 1232, staleTtlS: 5, traceRatio: 0 };
    const kept = createQueryHandler({ ...common, packetCacheMaxEntries: 256, onEvent: (e) => (packetHits += e.packetCache ? 1 : 0) });
    const longWay = createQueryHandler({ ...common, packetCacheMaxEntries: 0 });
    const names = ['music.demo.example', 'MUSIC.Demo.example', 'video.demo.example'];
    const counts = { sync: 0, decided: 0, time: 0, config: 0, zones: 0, narrower: 0 };
    for (let step = 0; step < 10_000; step++) {
      const op = random();
      if (op < 0.88) {
        const third = Math.floor(random() * 4);
        // Two /8s, so a store in one leaves kept replies of the other alone.
        const first = pick([1, 2]);
        const ecs = pick([[0, 1, 24, 0, first, 0, third], [0, 1, 20, 0, first, 0, third & 0xf0], [0, 1, 32, 0, first, 0, third, 9], undefined]);
        const packet = q(pick(names), pick(['A', 'AAAA'] as const), ecs ? { ecs, udp: pick([1232, 4096]) } : pick([undefined, {}]));
        packet.writeUInt16BE(Math.floor(random() * 65536), 0);
        const source = { address: pick(['203.0.113.9', '198.51.100.7']) };
        const out = kept.handle(packet, source, 'udp');
        if (out instanceof Promise) {
          await out;
          counts.decided++;
          continue;
        }
        const expected = longWay.handle(packet, source, 'udp');
        expect(expected).not.toBeInstanceOf(Promise);
        expect(out && Buffer.from(out).toString('hex')).toBe(expected && Buffer.from(expected as Buffer).toString('hex'));
        counts.sync++;
      } else if (op < 0.93) {
        t += Math.floor(random() * 5_000);
        counts.time++;
      } else if (op < 0.935) {
        cache.setConfigVersion(++version);
        counts.config++;
      } else if (op < 0.94) {
        // A new model object, with or without one of the policy names.
        model = random() < 0.5 ? withoutVideo : createZoneModel({ policies: [...zones.policies.values()], explicitZones: [], apex });
        counts.zones++;
      } else {
        // A narrower decision for part of a subnet already answered (or, rarely, one wider than a /8).
        const third = Math.floor(random() * 4);
        const response = decide({ clientIp: '', ecsSubnet: `1.0.${third}.0/24`, domain: 'music.demo.example' }) as Extract<DecisionOutcome, { ok: true }>;
        const scope = random() < 0.1 ? 6 : 28;
        cache.set(pick(['music.demo.example', 'video.demo.example']), pick([1, 28]), { family: 1, address: Uint8Array.of(pick([1, 2]), 0, third, 9), prefixLength: 32 }, scope, 60, version, toDecisionRecords(response.response, scope));
        counts.narrower++;
      }
    }
    // Every kind of change happened, and the packet cache answered part of the repeats (the rest
    // were first asks, or kept replies refused after a change).
    expect(Math.min(...Object.values(counts))).toBeGreaterThan(20);
    expect(packetHits).toBeGreaterThan(counts.sync / 20);
    expect(packetHits).toBeLessThan(counts.sync);
    expect(kept.packetCacheSize).toBeLessThanOrEqual(256);
  });
});
