import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { addressBytes } from './ecs-option.js';
import { encodeRecord, packAddresses, readSimpleQuery, writeAddressReply, writeNoDataReply } from './fast-path.js';
import { Rcode, readQuery, type Query } from './query-reader.js';
import { writeReply, type Reply } from './reply-writer.js';
import { createSeededUniform } from '@cdn-sched/testing';

/** A query with any question, EDNS and ECS, built by dns-packet (the library path's own encoder). */
function query(opts: { id?: number; rd?: boolean; name: string; type?: 'A' | 'AAAA'; edns?: { size: number; do?: boolean; ecs?: number[] } }): Buffer {
  const additionals = opts.edns
    ? [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: opts.edns.size,
          flags: opts.edns.do ? 0x8000 : 0,
          options: opts.edns.ecs ? [{ code: 8, data: Buffer.from(opts.edns.ecs) }] : [],
        } as unknown as dnsPacket.Answer,
      ]
    : [];
  return dnsPacket.encode({ id: opts.id ?? 4242, type: 'query', flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED, questions: [{ type: opts.type ?? 'A', name: opts.name }], additionals });
}

/** The reply the library path writes for a positive address answer. */
function libraryReply(q: Query, addresses: string[], ttlS: number, scope: number | undefined, limitBytes: number | undefined): Buffer {
  const type = q.qtype === 1 ? 'A' : 'AAAA';
  const reply: Reply = { rcode: Rcode.NOERROR, aa: true, answers: addresses.map((data) => ({ type, name: q.askedName, ttl: ttlS, data })), authorities: [], additionals: [], ecsScope: scope };
  const out = writeReply(q, reply, { limitBytes, advertisedUdpBytes: 1232 });
  return out.bytes;
}

function fastReply(q: Query, addresses: string[], ttlS: number, scope: number | undefined, limitBytes: number | undefined): Buffer | undefined {
  const packed = packAddresses(q.qtype === 1 ? 1 : 28, addresses.map(addressBytes));
  return writeAddressReply(q, packed, { ttlS, ecsScope: scope, advertisedUdpBytes: 1232, limitBytes });
}

/** The authority record of a NODATA reply, as the query handler builds it. */
const SOA: dnsPacket.Answer = { type: 'SOA', name: 'demo.example', ttl: 30, data: { mname: 'ns1.demo.example', rname: 'hostmaster.demo.example', serial: 4_000_000_007, refresh: 3600, retry: 600, expire: 86400, minimum: 30 } };
const SOA_BYTES = encodeRecord(SOA);

function libraryNoData(q: Query, scope: number | undefined, limitBytes: number | undefined): Buffer {
  return writeReply(q, { rcode: Rcode.NOERROR, aa: true, answers: [], authorities: [SOA], ecsScope: scope }, { limitBytes, advertisedUdpBytes: 1232 }).bytes;
}
const fastNoData = (q: Query, scope: number | undefined, limitBytes: number | undefined): Buffer | undefined => writeNoDataReply(q, SOA_BYTES, { ecsScope: scope, advertisedUdpBytes: 1232, limitBytes });

const V4 = ['127.0.0.11', '10.1.2.3', '192.0.2.255', '0.0.0.1'];
const V6 = ['2001:db8::1', '::1', 'fe80::1:2:3:4', '2001:db8:0:0:0:0:0:ffff'];

/** Every message kind the fast path handles: A/AAAA; no EDNS, EDNS, EDNS+DO; ECS v4/v6 at many prefixes. */
const KINDS: { label: string; packet: Buffer }[] = [];
for (const type of ['A', 'AAAA'] as const) {
  for (const name of ['music.demo.example', 'MuSiC.dEmO.ExAmPlE', 'a-b_c.x9.example', 'x']) {
    KINDS.push({ label: `${type} ${name} no EDNS`, packet: query({ name, type }) });
    KINDS.push({ label: `${type} ${name} RD clear`, packet: query({ name, type, rd: false, id: 1 }) });
    KINDS.push({ label: `${type} ${name} EDNS 4096 DO`, packet: query({ name, type, edns: { size: 4096, do: true } }) });
    KINDS.push({ label: `${type} ${name} EDNS 100`, packet: query({ name, type, edns: { size: 100 } }) });
    for (const [prefix, address] of [[0, []], [8, [1]], [21, [1, 0, 8]], [24, [1, 0, 8]], [32, [203, 0, 113, 9]]] as const) {
      KINDS.push({ label: `${type} ${name} ECS v4 /${prefix}`, packet: query({ name, type, id: 65535, edns: { size: 1232, ecs: [0, 1, prefix, 0, ...address] } }) });
    }
    for (const [prefix, address] of [[0, []], [48, [0x20, 1, 0xd, 0xb8, 0, 1]], [56, [0x24, 0x08, 0x80, 0, 0, 0, 0xab]], [128, [0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1]]] as const) {
      KINDS.push({ label: `${type} ${name} ECS v6 /${prefix}`, packet: query({ name, type, edns: { size: 1400, do: true, ecs: [0, 2, prefix, 0, ...address] } }) });
    }
  }
}

describe('fast path: byte-equal to the library path on every kind it handles', () => {
  it.each(KINDS)('$label', ({ packet }) => {
    const slow = readQuery(packet);
    expect(slow.kind).toBe('query');
    if (slow.kind !== 'query') return;
    const fast = readSimpleQuery(packet);
    expect(fast).toEqual(slow.query);
    for (const [count, ttl, scope] of [[1, 60, 21], [3, 0, 0], [4, 4294967295, 24]] as const) {
      const addresses = (slow.query.qtype === 1 ? V4 : V6).slice(0, count);
      for (const limit of [undefined, 512, 1232]) {
        const lib = libraryReply(slow.query, addresses, ttl, scope, limit);
        const mine = fastReply(fast!, addresses, ttl, scope, limit);
        expect(mine?.toString('hex')).toBe(lib.toString('hex'));
      }
    }
    for (const scope of [undefined, 0, 24])
      for (const limit of [undefined, 512, 1232]) expect(fastNoData(fast!, scope, limit)?.toString('hex')).toBe(libraryNoData(slow.query, scope, limit).toString('hex'));
  });

  it('NODATA: the SOA in authority, TTL and serial as given; a reply over the limit is deferred', () => {
    const q = readSimpleQuery(query({ name: 'Music.demo.example', type: 'AAAA', edns: { size: 1232, ecs: [0, 1, 24, 0, 1, 0, 8] } }))!;
    const decoded = dnsPacket.decode(fastNoData(q, 16, 1232)!);
    expect(decoded.flags! & 0xf).toBe(0); // NOERROR
    expect(decoded.flags! & dnsPacket.AUTHORITATIVE_ANSWER).toBeTruthy();
    expect(decoded.questions).toEqual([{ name: 'Music.demo.example', type: 'AAAA', class: 'IN' }]);
    expect(decoded.answers).toEqual([]);
    expect(decoded.authorities).toMatchObject([{ type: 'SOA', name: 'demo.example', ttl: 30, data: { serial: 4_000_000_007, minimum: 30 } }]);
    const lib = libraryNoData(q, 16, 60);
    expect(fastNoData(q, 16, 60)).toBeUndefined();
    expect(dnsPacket.decode(lib).flags! & dnsPacket.TRUNCATED_RESPONSE).toBeTruthy();
  });

  it('defers a reply that does not fit to the library path (which truncates it)', () => {
    const packet = query({ name: 'video.demo.example', edns: { size: 512 } });
    const q = readSimpleQuery(packet)!;
    const many = Array.from({ length: 40 }, (_, i) => `10.0.0.${i}`);
    expect(fastReply(q, many, 30, undefined, 512)).toBeUndefined();
    expect(fastReply(q, many, 30, undefined, undefined)!.toString('hex')).toBe(libraryReply(q, many, 30, undefined, undefined).toString('hex'));
  });

  it('defers every other shape: other types and classes, escapes, extra records or options, bad ECS, BADVERS', () => {
    const base = query({ name: 'music.demo.example', edns: { size: 1232, ecs: [0, 1, 24, 0, 1, 0, 8] } });
    const defer = [
      dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'TXT', name: 'music.demo.example' }] }),
      dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'music.demo.example', class: 'CH' }] }),
      dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'a.example' }, { type: 'A', name: 'b.example' }] }),
      Buffer.concat([base.subarray(0, 12), Buffer.from([3, 0x61, 0x2e, 0x62, 0, 0, 1, 0, 1])]), // a label holding a dot
      query({ name: 'music.demo.example', edns: { size: 1232, ecs: [0, 1, 33, 0, 1, 0, 8, 0, 0] } }), // /33: FORMERR
      query({ name: 'music.demo.example', edns: { size: 1232, ecs: [0, 1, 23, 0, 1, 0, 9] } }), // bits past the prefix
      query({ name: 'music.demo.example', edns: { size: 1232, ecs: [0, 3, 0, 0] } }), // unknown family
      Buffer.concat([base, Buffer.from([0])]), // trailing byte
      base.subarray(0, base.length - 1), // truncated
    ];
    const badvers = Buffer.from(query({ name: 'music.demo.example', edns: { size: 1232 } }));
    badvers[badvers.length - 5] = 1; // EDNS version 1
    defer.push(badvers);
    const cookie = dnsPacket.encode({ id: 1, type: 'query', questions: [{ type: 'A', name: 'music.demo.example' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 10, data: Buffer.alloc(8, 7) }] } as unknown as dnsPacket.Answer] });
    defer.push(cookie);
    for (const packet of defer) expect(readSimpleQuery(packet)).toBeUndefined();
  });
});

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;
function sameQuery(a: Query, b: Query): boolean {
  const scalar = a.id === b.id && a.rd === b.rd && a.opcode === b.opcode && a.askedName === b.askedName && a.name === b.name && a.qtype === b.qtype && a.qclass === b.qclass;
  if (!scalar || !sameBytes(a.question, b.question)) return false;
  if (!a.edns || !b.edns) return a.edns === b.edns;
  const e = a.edns;
  const f = b.edns;
  if (e.udpPayloadSize !== f.udpPayloadSize || e.version !== f.version || e.dnssecOk !== f.dnssecOk) return false;
  if (!e.ecs || !f.ecs) return e.ecs === f.ecs;
  return e.ecs.family === f.ecs.family && e.ecs.sourcePrefixLength === f.ecs.sourcePrefixLength && sameBytes(e.ecs.address, f.ecs.address);
}

describe('fast path fuzzed against dns-packet (the library path) as oracle', () => {
  // 120 000 library decodes: seconds on an idle machine, several times that on a busy one.
  it('on 120 000 random and mutated packets: agrees with readQuery or defers, never differs', { timeout: 300_000 }, () => {
    const rand = createSeededUniform(0x5eed13);
    const int = (n: number): number => Math.floor(rand() * n);
    const label = (): string => {
      const chars = 'abcXYZ09-_';
      let s = '';
      for (let i = 1 + int(8); i > 0; i--) s += chars[int(chars.length)];
      return s;
    };
    let agreed = 0;
    let deferred = 0;
    let replies = 0;
    for (let i = 0; i < 120_000; i++) {
      const name = Array.from({ length: 1 + int(4) }, label).join('.');
      const prefix4 = int(33);
      const ecs = int(3) === 0 ? undefined : int(2) === 0 ? [0, 1, prefix4, 0, ...Array.from({ length: Math.ceil(prefix4 / 8) }, () => 0)] : [0, 2, 56, 0, 0x24, 8, 0x80, 0, 0, 0, 0];
      if (ecs && ecs[1] === 1 && prefix4 > 0) ecs[4] = 1 + int(200);
      const packet = Buffer.from(query({ id: int(65536), rd: int(2) === 0, name, type: int(2) === 0 ? 'A' : 'AAAA', edns: int(4) === 0 ? undefined : { size: int(5000), do: int(2) === 0, ecs } }));
      // Mutations: bit flips, truncation, appended garbage, rewritten header counts.
      let mutated: Buffer = packet;
      switch (int(6)) {
        case 0:
          break;
        case 1:
          for (let f = 1 + int(3); f > 0; f--) mutated[int(mutated.length)] ^= 1 << int(8);
          break;
        case 2:
          mutated = mutated.subarray(0, int(mutated.length));
          break;
        case 3:
          mutated = Buffer.concat([mutated, Buffer.from(Array.from({ length: 1 + int(20) }, () => int(256)))]);
          break;
        case 4:
          mutated[4 + int(8)] = int(3);
          break;
        default:
          mutated[12 + int(mutated.length - 12)] = int(256);
      }
      const fast = readSimpleQuery(mutated);
      if (fast === undefined) {
        deferred++;
        continue;
      }
      agreed++;
      const slow = readQuery(mutated);
      if (slow.kind !== 'query') throw new Error(`case ${i}: fast path accepted ${mutated.toString('hex')}, library path says ${slow.kind}`);
      // A field-by-field check first (a deep equal per case would dominate the run); on any
      // difference the deep equal names it.
      if (!sameQuery(fast, slow.query)) expect(fast).toEqual(slow.query);
      // dns-packet itself decodes the packet to the same question and ECS.
      const decoded = dnsPacket.decode(mutated);
      expect(decoded.questions?.[0]?.name.toLowerCase()).toBe(fast.name);
      if (i % 8 === 0) {
        const addresses = (fast.qtype === 1 ? V4 : V6).slice(0, 1 + int(4));
        const ttl = int(100_000);
        const scope = int(25);
        const limit = [undefined, 512, 1232][int(3)];
        const lib = libraryReply(slow.query, addresses, ttl, scope, limit);
        const mine = fastReply(fast, addresses, ttl, scope, limit);
        if (mine === undefined) expect(lib.length > limit!).toBe(true);
        else expect(mine.toString('hex')).toBe(lib.toString('hex'));
        const noData = fastNoData(fast, scope, limit);
        const libNoData = libraryNoData(slow.query, scope, limit);
        if (noData === undefined) expect(libNoData.length > limit! || dnsPacket.decode(libNoData).flags! & dnsPacket.TRUNCATED_RESPONSE).toBeTruthy();
        else expect(noData.toString('hex')).toBe(libNoData.toString('hex'));
        replies++;
      }
    }
    // Both sides of the contract were exercised in earnest.
    expect(agreed).toBeGreaterThan(20_000);
    expect(deferred).toBeGreaterThan(20_000);
    expect(replies).toBeGreaterThan(2_000);
  });
});
