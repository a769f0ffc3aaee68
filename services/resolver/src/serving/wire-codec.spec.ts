import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AllDownPolicy, Health, ResolveRequestSchema, ResolveResponseSchema, ResolveStreamRequestSchema, ResolveStreamResponseSchema, Strategy, Tier } from '@cdn-sched/proto';
import { createGeoIpProvider, ecsV4Address, ecsV4PrefixLen, formatIpv4 } from '@cdn-sched/geoip';
import { describe, expect, it } from 'vitest';
import { buildRoutingTable, createRng, nextU32 } from '../decision/index.js';
import { makeDomain, makeNode, makeWeight } from '../decision/fixtures.js';
import { createResolveCore, type ResolveInput } from './resolve-core.js';
import { toResolveResponse } from './to-response.js';
import { BatchInputs, createBatchWriter, decodeResolveRequestBytes, decodeResolveStreamRequest, encodeDecision, encodeResolveResponse, type ResolveBatch } from './wire-codec.js';


/** A tiny IP database over the real parser's output shape: three ranges with known locations. */
function smallGeo() {
  const locations = [
    { country: 'CN', region: 'CN-GD', isp: 'ct' },
    { country: 'CN', region: 'CN-BJ', isp: 'cu' },
    { country: 'US', region: '', isp: '' },
  ];
  return {
    lookupV4: (ip: number) => (ip >>> 0 < 0x40000000 ? 0 : ip >>> 0 < 0x80000000 ? 1 : ip >>> 0 < 0xc0000000 ? 2 : -1),
    prefixLenV4: () => 2,
    location: (id: number) => locations[id] ?? { country: '', region: '', isp: '' },
    lookupAddress: () => -1,
    prefixLenOf: () => 0,
  };
}

/** A decoded input with an IPv4 address and ECS subnet parsed from bytes, written back as the text the client sent. */
function asText(q: ResolveInput): ResolveInput {
  const { clientIpV4, ecsV4Subnet, ...rest } = q;
  // The decoder gives ids below 2^53 as numbers; the messages compared with carry bigints.
  rest.queryId = BigInt(rest.queryId);
  // An IPv4 subnet parsed from the bytes, as text (the tests' subnets have no host bits to clear).
  if (ecsV4Subnet !== undefined && ecsV4Subnet >= 0) rest.ecsSubnet = `${formatIpv4(ecsV4Address(ecsV4Subnet))}/${ecsV4PrefixLen(ecsV4Subnet)}`;
  return clientIpV4 === undefined || clientIpV4 < 0 ? rest : { ...rest, clientIp: formatIpv4(clientIpV4) };
}

/** Query ids of every varint size: 0, small, past 2^31 and 2^32, near 2^53 (number or bigint), past 2^63. */
const ID_SAMPLES = [0n, 1n, 127n, 128n, 2n ** 31n, 2n ** 32n + 5n, 2n ** 49n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n + 1n, 2n ** 64n - 1n];

describe('ResolveStream wire codec', () => {
  const rng = createRng(7);
  const rand = (n: number): number => nextU32(rng) % n;
  const nodes = Array.from({ length: 30 }, (_, i) =>
    makeNode(`n${i}`, { region: ['CN-GD', 'CN-BJ', 'CN-SH'][i % 3], isp: ['ct', 'cu', 'cm'][i % 3], country: i % 10 === 9 ? 'US' : 'CN', pools: ['edge'] }),
  );
  const table = buildRoutingTable({
    nodes,
    domains: [
      makeDomain('w.example', { pool: 'edge', answers: 2, strategy: Strategy.WEIGHTED, fallback: [Tier.ISP_REGION, Tier.REGION, Tier.ANY] }),
      makeDomain('c.example', { pool: 'edge', answers: 3, strategy: Strategy.CONSISTENT, fallback: [Tier.REGION, Tier.COUNTRY, Tier.ANY] }),
    ],
    weights: nodes.map((n, i) => makeWeight(n.id, { weight: 10 + i })),
    configVersion: 123n,
    weightsVersion: 45n,
  });
  const core = createResolveCore({ table: () => table, geo: () => smallGeo() as never, stale: () => false, seed: 3 });

  it('encodes decisions byte for byte like the reflective codec (2,000 random queries)', () => {
    const domains = ['w.example', 'c.example', 'W.EXAMPLE.', 'missing.example', ''];
    for (let i = 0; i < 2000; i++) {
      const input: ResolveInput = {
        queryId: rand(4) === 0 ? ID_SAMPLES[rand(ID_SAMPLES.length)]! : BigInt(rand(2 ** 31)) * BigInt(1 + rand(3)),
        clientIp: rand(10) === 0 ? 'not-an-ip' : `${rand(256)}.${rand(256)}.${rand(256)}.${rand(256)}`,
        ecsSubnet: '',
        domain: domains[rand(domains.length)]!,
        answers: rand(4),
        compact: rand(2) === 0,
      };
      const decided = core.resolve(input);
      const w = createBatchWriter();
      // The id as the wire decoder would give it (a number below 2^53) or as a message carries it.
      const id = rand(2) === 0 && input.queryId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(input.queryId) : input.queryId;
      encodeDecision(w, id, decided, input.compact);
      const wire = w.finish();
      const reflective = toBinary(
        ResolveStreamResponseSchema,
        create(ResolveStreamResponseSchema, {
          decisions: [
            {
              queryId: BigInt(input.queryId),
              result: decided.ok
                ? { case: 'response', value: toResolveResponse(input.queryId, decided, input.compact) }
                : { case: 'error', value: { code: decided.code, message: decided.message } },
            },
          ],
        }),
      );
      expect(wire).toEqual(reflective);
    }
  });

  it('the compact one-pass encoder writes what the reflective codec does: degraded, ids of every size, lengths past 127 bytes', () => {
    // Node fields of every length (the word-wise copy's tails), addresses of both families and host
    // names, ports left out; up to 12 answers so that answers, responses and decisions pass 127 bytes.
    const many = Array.from({ length: 40 }, (_, i) =>
      makeNode(`${'n'.repeat(1 + (i % 37))}${i}`, {
        address: i % 5 === 0 ? `2001:db8::${i.toString(16)}` : i % 7 === 0 ? `edge-${i}.cdn.example.net` : `198.51.100.${i}`,
        port: i % 3 === 0 ? 0 : 8000 + i * 997,
        region: ['CN-GD', 'CN-BJ'][i % 2],
        isp: ['ct', 'cu'][i % 2],
        pools: ['edge'],
      }),
    );
    const ttls = [0, 5, 300, 100_000];
    let stale = false;
    const tables = [0n, 1n, 2n ** 40n].map((version, t) =>
      buildRoutingTable({
        nodes: many,
        domains: ttls.flatMap((ttlS, k) => [
          makeDomain(`w${k}.example`, { ttlS, answers: 1 + ((k * 5 + t) % 12), strategy: Strategy.WEIGHTED, fallback: [Tier.ISP_REGION, Tier.ANY] }),
          makeDomain(`c${k}.example`, { ttlS, answers: 12 - k, strategy: Strategy.CONSISTENT, fallback: [Tier.REGION, Tier.ANY] }),
        ]),
        weights: many.map((n, i) => makeWeight(n.id, { weight: 1 + ((i * 13) % 50) })),
        configVersion: version,
        weightsVersion: version * 3n,
      }),
    );
    let now = tables[0]!;
    const manyCore = createResolveCore({ table: () => now, geo: () => smallGeo() as never, stale: () => stale, seed: 11 });
    const ids = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 32 - 1];
    let longest = 0;
    for (let i = 0; i < 3000; i++) {
      now = tables[rand(tables.length)]!;
      stale = rand(3) === 0;
      const queryId = rand(2) === 0 ? ids[rand(ids.length)]! : rand(2 ** 31);
      const input: ResolveInput = { queryId, clientIp: `${rand(256)}.${rand(256)}.1.2`, ecsSubnet: '', domain: `${rand(2) ? 'w' : 'c'}${rand(ttls.length)}.example`, answers: rand(13), compact: true };
      const decided = manyCore.resolve(input);
      const w = createBatchWriter();
      encodeDecision(w, queryId, decided, true);
      const wire = w.finish();
      longest = Math.max(longest, wire.length);
      const reflective = toBinary(
        ResolveStreamResponseSchema,
        create(ResolveStreamResponseSchema, {
          decisions: [
            {
              queryId: BigInt(queryId),
              result: decided.ok
                ? { case: 'response', value: toResolveResponse(BigInt(queryId), decided, true) }
                : { case: 'error', value: { code: decided.code, message: decided.message } },
            },
          ],
        }),
      );
      expect(wire, `query ${i}`).toEqual(reflective);
    }
    expect(longest).toBeGreaterThan(300);
  });

  it('an IPv4 ECS subnet read from the bytes decides as its text does (real IP data: location, scope, consistent key)', async () => {
    const provider = await createGeoIpProvider();
    try {
      const realCore = createResolveCore({ table: () => table, geo: () => provider.database, stale: () => false, seed: 5 });
      // The answers only for the consistent domain: a weighted pick draws from the core's random source, which the two calls share.
      const snapshot = (d: ReturnType<typeof realCore.resolve>, consistent: boolean): unknown => [d.ok, d.code, d.location, d.prefixLen, consistent ? Array.from(d.result.nodes.subarray(0, d.result.count)) : []];
      const texts: string[] = [];
      for (let i = 0; i < 2000; i++) texts.push(`${1 + rand(223)}.${rand(256)}.${rand(256)}.${rand(256)}/${rand(33)}`);
      const bytes = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: texts.map((ecsSubnet, i) => ({ queryId: BigInt(i + 1), clientIp: '8.8.8.8', ecsSubnet, domain: i % 2 ? 'c.example' : 'w.example', answers: 2 })) }));
      const decoded = decodeResolveStreamRequest(bytes) as ResolveBatch;
      let located = 0;
      for (let i = 0; i < texts.length; i++) {
        const q = decoded[i]!;
        expect(q.ecsV4Subnet, texts[i]).toBeGreaterThanOrEqual(0);
        const consistent = q.domain === 'c.example';
        const fromBytes = snapshot(realCore.resolve(q), consistent);
        const fromText = snapshot(realCore.resolve({ queryId: q.queryId, clientIp: '8.8.8.8', ecsSubnet: texts[i]!, domain: q.domain, answers: 2, compact: false }), consistent);
        expect(fromBytes, texts[i]).toEqual(fromText);
        if ((fromBytes as [boolean, number, { country: string }])[2].country !== '') located++;
      }
      expect(located).toBeGreaterThan(1000);
    } finally {
      provider.close();
    }
  });

  it('answers name the nodes of the table each decision used, when tables of other nodes alternate', () => {
    // The codec keeps each node's answer fields encoded per node table: a table whose node i is
    // another node (other id, address, port) must not be answered with the previous table's bytes.
    const fleet = (tag: string, port: number) =>
      Array.from({ length: 30 }, (_, i) => makeNode(`${tag}-${i}`, { address: `198.51.100.${(i * 7 + tag.length) % 250}`, port: i % 4 === 0 ? 0 : port + i, region: 'CN-GD', isp: 'ct', pools: ['edge'] }));
    const build = (nodes: ReturnType<typeof fleet>, weightsVersion: bigint) =>
      buildRoutingTable({
        nodes,
        domains: [makeDomain('w.example', { pool: 'edge', answers: 3, ttlS: 20_000 })],
        weights: nodes.map((n, i) => makeWeight(n.id, { weight: 1 + i })),
        configVersion: 9n,
        weightsVersion,
      });
    const tables = [build(fleet('a', 8000), 1n), build(fleet('bravo', 443), 2n), build(fleet('a', 8000), 3n)];
    let current = tables[0]!;
    const switching = createResolveCore({ table: () => current, geo: () => smallGeo() as never, stale: () => false, seed: 5 });
    const w = createBatchWriter();
    for (let i = 0; i < 300; i++) {
      current = tables[i % tables.length]!;
      const q = { queryId: BigInt(i + 1), clientIp: `${rand(64)}.1.2.3`, ecsSubnet: '', domain: 'w.example', answers: 3, compact: i % 2 === 0 };
      const decided = switching.resolve(q);
      expect(decided.ok).toBe(true);
      encodeDecision(w, q.queryId, decided, q.compact);
      const reflective = toBinary(
        ResolveStreamResponseSchema,
        create(ResolveStreamResponseSchema, { decisions: [{ queryId: q.queryId, result: { case: 'response', value: toResolveResponse(q.queryId, decided, q.compact) } }] }),
      );
      expect(w.finish()).toEqual(reflective);
    }
  });

  it("decides with each table's own location codes when tables with other codes alternate (the core caches code ids per table)", () => {
    // Table "gd" knows CN-GD and ct; table "bj" has nodes only in CN-BJ / cu, so a Guangdong client
    // is outside its region and ISP tiers there and must fall back to the country tier.
    const build = (region: string, isp: string, version: bigint) => {
      const nodes = Array.from({ length: 6 }, (_, i) => makeNode(`${region}-${isp}-${i}`, { region, isp, pools: ['edge'] }));
      return buildRoutingTable({
        nodes,
        // Consistent: the same client gets the same answers from any core, so two cores compare.
        domains: [makeDomain('w.example', { pool: 'edge', answers: 2, strategy: Strategy.CONSISTENT, fallback: [Tier.ISP_REGION, Tier.REGION, Tier.COUNTRY, Tier.ANY] })],
        weights: nodes.map((n) => makeWeight(n.id)),
        configVersion: version,
        weightsVersion: version,
      });
    };
    const tables = [build('CN-GD', 'ct', 1n), build('CN-BJ', 'cu', 2n)];
    let current = tables[0]!;
    // One database object until it is reloaded: the cache is per table and database.
    let geo = smallGeo();
    const switching = createResolveCore({ table: () => current, geo: () => geo as never, stale: () => false, seed: 5 });
    for (let i = 0; i < 200; i++) {
      current = tables[i % 2]!;
      // A fresh core per query has no cached codes: what the cached ids must reproduce.
      const fresh = createResolveCore({ table: () => current, geo: () => geo as never, stale: () => false, seed: 5 });
      const q = { queryId: BigInt(i), clientIp: `${rand(192)}.1.2.3`, ecsSubnet: '', domain: 'w.example', answers: 2 };
      const got = switching.resolve(q);
      const answer = [got.result.tier, got.result.reason, ...got.result.nodes.subarray(0, got.result.count)];
      const want = fresh.resolve(q);
      expect(answer).toEqual([want.result.tier, want.result.reason, ...want.result.nodes.subarray(0, want.result.count)]);
    }
    // Both tables answered Guangdong clients, from the ISP+region tier of one and the country tier of the other.
    current = tables[0]!;
    expect(switching.resolve({ queryId: 1n, clientIp: '1.1.2.3', ecsSubnet: '', domain: 'w.example', answers: 2 }).result.tier).toBe(Tier.ISP_REGION);
    current = tables[1]!;
    expect(switching.resolve({ queryId: 1n, clientIp: '1.1.2.3', ecsSubnet: '', domain: 'w.example', answers: 2 }).result.tier).toBe(Tier.COUNTRY);
    // A reloaded database whose location ids mean other places: 1.x is now Beijing/cu, answered
    // from table "bj"'s ISP+region tier, not from the codes cached for the old id.
    const reloaded = smallGeo();
    geo = { ...reloaded, location: (id: number) => reloaded.location(id === 0 ? 1 : id === 1 ? 0 : id) };
    expect(switching.resolve({ queryId: 1n, clientIp: '1.1.2.3', ecsSubnet: '', domain: 'w.example', answers: 2 }).result.tier).toBe(Tier.ISP_REGION);
  });

  it("answers UNAVAILABLE naming each table's own pool and the policy's domain, when tables alternate (the core keeps the message per table)", () => {
    const build = (pool: string, version: bigint) => {
      const nodes = Array.from({ length: 4 }, (_, i) => makeNode(`${pool}-${i}`, { region: 'CN-GD', isp: 'ct', pools: [pool] }));
      return buildRoutingTable({
        nodes,
        domains: [makeDomain('w.example', { pool, allDown: AllDownPolicy.ERROR })],
        weights: nodes.map((n) => makeWeight(n.id, { weight: 0, health: Health.DOWN })),
        configVersion: version,
        weightsVersion: version,
      });
    };
    const tables = [build('edge', 1n), build('backup', 2n)];
    let current = tables[0]!;
    const switching = createResolveCore({ table: () => current, geo: () => smallGeo() as never, stale: () => false, seed: 5 });
    const messages: string[] = [];
    for (let i = 0; i < 4; i++) {
      current = tables[i % 2]!;
      // Asked in another case and with a trailing dot: the message names the policy's domain.
      const got = switching.resolve({ queryId: BigInt(i), clientIp: '1.1.2.3', ecsSubnet: '', domain: i < 2 ? 'w.example' : 'W.Example.', answers: 1 });
      expect([got.ok, got.code, got.reason]).toEqual([false, 14, 'no-healthy-node']);
      messages.push(got.message);
    }
    const edge = "no healthy node of pool 'edge' for this client, and the policy of w.example says error when all are down";
    const backup = "no healthy node of pool 'backup' for this client, and the policy of w.example says error when all are down";
    expect(messages).toEqual([edge, backup, edge, backup]);
  });

  it('encodes unary responses and decodes unary requests like the reflective codec', () => {
    const writer = createBatchWriter();
    for (let i = 0; i < 500; i++) {
      const input = { queryId: rand(3) === 0 ? ID_SAMPLES[rand(ID_SAMPLES.length)]! : BigInt(rand(2 ** 31)), clientIp: `${rand(256)}.${rand(256)}.${rand(256)}.${rand(256)}`, ecsSubnet: '', domain: rand(2) ? 'w.example' : 'c.example', answers: rand(4), compact: rand(2) === 0 };
      const requestBytes = toBinary(ResolveRequestSchema, create(ResolveRequestSchema, input));
      expect(asText(decodeResolveRequestBytes(requestBytes))).toEqual(input);
      const decided = core.resolve(input);
      expect(decided.ok).toBe(true);
      const decodedId = decodeResolveRequestBytes(requestBytes).queryId;
      expect(typeof decodedId).toBe(input.queryId <= BigInt(Number.MAX_SAFE_INTEGER) ? 'number' : 'bigint');
      expect(encodeResolveResponse(writer, decodedId, decided, input.compact)).toEqual(
        toBinary(ResolveResponseSchema, toResolveResponse(input.queryId, decided, input.compact)),
      );
    }
  });

  it('decodes batch after batch into the same objects with nothing left over from the one before', () => {
    const inputs = new BatchInputs();
    const full = toBinary(
      ResolveStreamRequestSchema,
      create(ResolveStreamRequestSchema, {
        traceparent: '00-33333333333333333333333333333333-3333333333333333-01',
        queries: [
          { queryId: 9n, clientIp: '1.2.3.4', ecsSubnet: '1.2.3.0/24', domain: 'w.example', answers: 3, compact: true },
          { queryId: 2n ** 60n, clientIp: '2001:db8::1', domain: 'c.example' },
        ],
      }),
    );
    // The second query of the first batch is malformed (query_id as a string): `invalid` set.
    const malformed = Uint8Array.from([...full, 0x0a, 0x02, 0x0a, 0x00]);
    const first = decodeResolveStreamRequest(malformed, undefined, inputs) as ResolveBatch;
    expect(first.length).toBe(3);
    expect(first.traceparent).toBeDefined();
    expect(first[2]!.invalid).toMatch(/query_id/);
    const sparse = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: [{ domain: 'x' }, { clientIp: '5.6.7.8' }, {}] }));
    const second = decodeResolveStreamRequest(sparse, undefined, inputs) as ResolveBatch;
    expect(second).toBe(first);
    expect(second.traceparent).toBeUndefined();
    expect(second.map(asText)).toEqual((decodeResolveStreamRequest(sparse) as ResolveBatch).map(asText));
    expect(second.map((q) => [q.clientIpV4, q.invalid, q.compact, q.answers, q.ecsSubnet])).toEqual([
      [-1, undefined, false, 0, ''],
      [0x05060708, undefined, false, 0, ''],
      [-1, undefined, false, 0, ''],
    ]);
    // A shorter batch after a longer one: the array is cut to the new batch.
    const one = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: [{ domain: 'y' }] }));
    expect((decodeResolveStreamRequest(one, undefined, inputs) as ResolveBatch).map((q) => q.domain)).toEqual(['y']);
  });

  it('round-trips a batch through the reflective decoder with every field', () => {
    const w = createBatchWriter();
    const inputs = [
      { queryId: 1n, clientIp: '1.2.3.4', ecsSubnet: '', domain: 'w.example', answers: 2 },
      { queryId: 2n, clientIp: '', ecsSubnet: '', domain: 'nope.example', answers: 0 },
    ];
    for (const q of inputs) encodeDecision(w, q.queryId, core.resolve(q));
    const back = fromBinary(ResolveStreamResponseSchema, w.finish());
    expect(back.decisions.map((d) => [d.queryId, d.result.case])).toEqual([
      [1n, 'response'],
      [2n, 'error'],
    ]);
    const ok = back.decisions[0]!.result.value as { answers: unknown[]; configVersion: bigint; weightsVersion: bigint; location?: { region: string } };
    expect(ok.answers).toHaveLength(2);
    expect(ok.configVersion).toBe(123n);
    expect(ok.weightsVersion).toBe(45n);
    expect(ok.location?.region).toBe('CN-GD');
  });

  it('a compact response carries answers, TTL, ECS scope, degraded and versions, and nothing else', () => {
    const w = createBatchWriter();
    const q = { queryId: 7n, clientIp: '1.2.3.4', ecsSubnet: '', domain: 'w.example', answers: 2, compact: true };
    encodeDecision(w, q.queryId, core.resolve(q), true);
    const r = fromBinary(ResolveStreamResponseSchema, w.finish()).decisions[0]!.result.value as {
      answers: { address: string; ttlS: number }[];
      location?: unknown;
      reason: string;
      tier: number;
      ecsScope: number;
      configVersion: bigint;
    };
    expect(r.answers).toHaveLength(2);
    expect(r.answers[0]!.ttlS).toBeGreaterThan(0);
    expect(r.ecsScope).toBe(2);
    expect(r.configVersion).toBe(123n);
    expect([r.location, r.reason, r.tier]).toEqual([undefined, '', 0]);
  });

  it('decodes requests exactly like the reflective codec, skipping unknown fields', () => {
    for (let i = 0; i < 500; i++) {
      const queries = Array.from({ length: rand(5) }, () => ({
        queryId: BigInt(rand(2 ** 30)) * 4096n,
        clientIp: rand(2) ? `10.0.${rand(256)}.${rand(256)}` : '',
        ecsSubnet: rand(3) === 0 ? `1.2.${rand(256)}.0/24` : '',
        domain: ['a.example', 'b.example', ''][rand(3)]!,
        answers: rand(17),
        compact: rand(4) === 0,
      }));
      const traceparent = rand(2) ? `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-0${rand(2)}` : '';
      const bytes = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries, traceparent }));
      const decoded = decodeResolveStreamRequest(bytes) as ResolveBatch;
      expect(decoded.map(asText)).toEqual(queries);
      expect(decoded.traceparent ?? '').toBe(traceparent);
    }
    // A field from a future version of the contract (number 9, varint) is skipped.
    const withUnknown = new Uint8Array([0x0a, 0x05, 0x22, 0x01, 0x78, 0x48, 0x01]);
    expect((decodeResolveStreamRequest(withUnknown) as ResolveInput[]).map(asText)).toEqual([{ queryId: 0n, clientIp: '', ecsSubnet: '', domain: 'x', answers: 0, compact: false }]);
    // An address that is not a dotted quad stays text, for the core to parse (IPv6) or reject.
    const v6 = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: [{ clientIp: '2001:db8::1' }, { clientIp: '1.2.3' }] }));
    expect((decodeResolveStreamRequest(v6) as ResolveInput[]).map((q) => [q.clientIp, q.clientIpV4])).toEqual([
      ['2001:db8::1', -1],
      ['1.2.3', -1],
    ]);
  });
});
