import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ResolveStreamRequestSchema, ResolveStreamResponseSchema, Tier, type ResolveStreamResponse } from '@cdn-sched/proto';
import { createSeededRandom, fuzzFrame, pickFaults, type FuzzSchema } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { createBatchWriter, decodeDecisionBatch, decodeDecisionBatchFast, encodeDecisionBatch, type IncomingDecision, type OutgoingBatch } from './decision-codec.js';

const CASES = Number(process.env['FUZZ_CASES'] ?? 50_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_202);

/** What the gateway keeps of a reflectively decoded response, in the decoder's shape. */
function project(m: ResolveStreamResponse): IncomingDecision[] {
  return m.decisions.map((d) => ({
    queryId: d.queryId,
    result:
      d.result.case === 'response'
        ? { case: 'response', value: { answers: d.result.value.answers.map((a) => ({ nodeId: a.nodeId, address: a.address, ttlS: a.ttlS })), ecsScope: d.result.value.ecsScope, degraded: d.result.value.degraded, configVersion: d.result.value.configVersion } }
        : d.result.case === 'error'
          ? { case: 'error', value: { code: d.result.value.code, message: d.result.value.message } }
          : { case: undefined },
  }));
}

/** A compact text of decoded decisions (bigints included), cheap to compare over many cases. */
const text = (ds: IncomingDecision[]): string => JSON.stringify(ds, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('gateway ResolveStream codec', () => {
  it('writes batches byte-equal to the reflective encoder (compact set, defaults left out, traceparent last)', () => {
    const rng = createSeededRandom(SEED);
    const writer = createBatchWriter();
    const strings = ['', '1.0.8.7', '2001:db8::1', '1.0.8.0/24', 'music.demo.example', '电信.example', 'x'.repeat(300)];
    for (let round = 0; round < 500; round++) {
      const batch: OutgoingBatch = {
        queries: Array.from({ length: rng.int(70) }, () => ({
          queryId: rng.pick([0, 1, 127, 128, 2 ** 31, 2 ** 53 - 1, rng.int(1 << 30)]),
          clientIp: rng.pick(strings),
          ecsSubnet: rng.pick(strings),
          domain: rng.pick(strings),
        })),
        traceparent: rng.chance(0.3) ? '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' : '',
      };
      const oracle = toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: batch.queries.map((q) => ({ ...q, queryId: BigInt(q.queryId), compact: true })), traceparent: batch.traceparent }));
      expect(hex(encodeDecisionBatch(writer, batch))).toBe(hex(oracle));
    }
  });

  it('reads well-formed responses (full and compact, errors, empty results) as the reflective decoder does', () => {
    const rng = createSeededRandom(SEED + 1);
    for (let round = 0; round < 2000; round++) {
      const message = create(ResolveStreamResponseSchema, {
        decisions: Array.from({ length: rng.int(40) }, (_, i) => {
          const kind = rng.int(5);
          const queryId = BigInt(rng.pick([0, i + 1, 2 ** 40]));
          if (kind === 0) return { queryId, result: { case: 'error' as const, value: { code: rng.int(17), message: rng.pick(['', 'no policy for domain x.example', 'ünïcode']) } } };
          if (kind === 1) return { queryId };
          return {
            queryId,
            result: {
              case: 'response' as const,
              value: {
                queryId,
                answers: Array.from({ length: rng.int(5) }, (_, k) => ({ nodeId: `gd-ct-${k}`, address: rng.pick(['127.0.0.11', '2001:db8::7', 'edge-7.cdn.example.net', '']), port: rng.pick([0, 443]), ttlS: rng.pick([0, 30, 4294967295]) })),
                ...(kind === 2 ? { location: { country: 'CN', region: 'CN-GD', isp: '电信', prefixLen: 21 }, tier: Tier.ISP_REGION, reason: 'isp+region CN-GD/ct: 3 healthy' } : {}),
                ecsScope: rng.int(129),
                degraded: rng.chance(0.2),
                configVersion: BigInt(rng.int(1 << 30)) * 4096n,
                weightsVersion: BigInt(rng.int(1000)),
              },
            },
          };
        }),
      });
      const bytes = toBinary(ResolveStreamResponseSchema, message);
      expect(text(decodeDecisionBatch(bytes))).toBe(text(project(fromBinary(ResolveStreamResponseSchema, bytes))));
    }
  });

  it(`on ${CASES} fuzzed frames: equal to the reflective decoder, or a refusal naming the field and byte`, { timeout: 600_000 }, () => {
    // proto/cdn/sched/v1/resolver.proto (Tier is an open enum: an int32 on the wire)
    const answer: FuzzSchema = { 1: 'string', 2: 'string', 3: 'uint32', 4: 'uint32' };
    const location: FuzzSchema = { 1: 'string', 2: 'string', 3: 'string', 4: 'uint32' };
    const response: FuzzSchema = { 1: 'uint64', 2: { message: answer, repeated: true }, 3: { message: location }, 4: 'int32', 5: 'string', 6: 'uint32', 7: 'bool', 8: 'uint64', 9: 'uint64' };
    const decision: FuzzSchema = { 1: 'uint64', 2: { message: response }, 3: { message: { 1: 'uint32', 2: 'string' } } };
    const schema: FuzzSchema = { 1: { message: decision, repeated: true } };
    const rng = createSeededRandom(SEED + 2);
    const tally = { bothAccept: 0, oursRefuses: 0, oracleRefuses: 0, fastAccepts: 0 };
    for (let i = 0; i < CASES; i++) {
      const faults = pickFaults(rng);
      const bytes = fuzzFrame(schema, rng, faults);
      let oracle: IncomingDecision[] | undefined;
      try {
        oracle = project(fromBinary(ResolveStreamResponseSchema, bytes));
      } catch {
        oracle = undefined;
      }
      const where = `case ${i} [${[...faults].join(',')}] ${hex(bytes)}`;
      // The fast reader on its own: it agrees exactly or declines, never accepts what is refused.
      const fast = decodeDecisionBatchFast(bytes);
      if (fast) {
        if (!oracle) throw new Error(`${where}: the fast reader accepted what the reflective decoder refuses`);
        if (text(fast) !== text(oracle)) expect(fast, `${where} (fast reader)`).toEqual(oracle);
        tally.fastAccepts++;
      }
      let ours: IncomingDecision[];
      try {
        ours = decodeDecisionBatch(bytes);
      } catch (error) {
        const message = (error as Error).message;
        if (!/^[a-z_.A-Z]+ at byte \d+: .+/.test(message)) throw new Error(`${where}: unclear refusal "${message}"`);
        tally.oursRefuses++;
        if (!oracle) tally.oracleRefuses++;
        continue;
      }
      if (!oracle) throw new Error(`${where}: ours accepted what the reflective decoder refuses`);
      if (text(ours) !== text(oracle)) expect(ours, where).toEqual(oracle);
      tally.bothAccept++;
    }
    console.log(`ResolveStreamResponse fuzz: ${JSON.stringify(tally)}`);
    expect(tally.bothAccept).toBeGreaterThan(CASES / 10);
    expect(tally.oursRefuses).toBeGreaterThan(CASES / 10);
    expect(tally.fastAccepts).toBeGreaterThan(CASES / 50);
  });

  it('reads what the resolver writes for compact requests on the fast path, as the reflective decoder does', () => {
    const rng = createSeededRandom(SEED + 3);
    const addresses = ['127.0.0.11', '2001:db8::7', 'edge-7.cdn.example.net', '', '10.0.0.1'];
    for (let round = 0; round < 2000; round++) {
      const message = create(ResolveStreamResponseSchema, {
        decisions: Array.from({ length: rng.int(70) }, (_, i) => {
          // Large ids and versions take 6–7 varint bytes, still inside the fast shape.
          const queryId = BigInt(rng.pick([0, i + 1, 2 ** 40, 2 ** 48 + 3]));
          if (rng.chance(0.05)) return { queryId };
          return {
            queryId,
            result: {
              case: 'response' as const,
              value: {
                queryId,
                answers: Array.from({ length: rng.int(6) }, () => ({ nodeId: `n-${rng.int(1000)}`, address: rng.pick(addresses), port: rng.pick([0, 443]), ttlS: rng.pick([0, 30, 300, 86_400]) })),
                tier: rng.pick([Tier.UNSPECIFIED, Tier.ISP_REGION]),
                ecsScope: rng.int(129),
                degraded: rng.chance(0.2),
                configVersion: BigInt(rng.int(1 << 30)) * 4096n,
                weightsVersion: BigInt(rng.int(100_000)),
              },
            },
          };
        }),
      });
      const bytes = toBinary(ResolveStreamResponseSchema, message);
      const fast = decodeDecisionBatchFast(bytes);
      expect(fast, `round ${round}: the fast reader declined ${hex(bytes)}`).toBeDefined();
      expect(text(fast!)).toBe(text(project(fromBinary(ResolveStreamResponseSchema, bytes))));
    }
  });

  it('leaves strings that are not ASCII to the checked decoder, which reads them as the reflective decoder does', () => {
    const utf8 = toBinary(ResolveStreamResponseSchema, create(ResolveStreamResponseSchema, { decisions: [{ queryId: 1n, result: { case: 'response', value: { answers: [{ nodeId: '边缘-ü', address: '127.0.0.11', ttlS: 30 }] } } }] }));
    expect(decodeDecisionBatchFast(utf8)).toBeUndefined();
    expect(text(decodeDecisionBatch(utf8))).toBe(text(project(fromBinary(ResolveStreamResponseSchema, utf8))));
    // An address whose last byte is not ASCII (not UTF-8 either): every byte is checked, the last too.
    const bad = Uint8Array.from([0x0a, 0x0d, 0x08, 0x01, 0x12, 0x09, 0x12, 0x07, 0x12, 0x05, 0x31, 0x2e, 0x32, 0x2e, 0xff]);
    expect(decodeDecisionBatchFast(bad)).toBeUndefined();
    let oracle: string;
    try {
      oracle = text(project(fromBinary(ResolveStreamResponseSchema, bad)));
    } catch {
      oracle = 'refused';
    }
    let ours: string;
    try {
      ours = text(decodeDecisionBatch(bad));
    } catch {
      ours = 'refused';
    }
    expect(ours).toBe(oracle);
  });

  it('refusals name the field and the byte offset', () => {
    // decisions[0].response.answers[0].address declares 9 bytes inside an answer of 3.
    expect(() => decodeDecisionBatch(Uint8Array.from([0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x12, 0x09, 0x61]))).toThrow(
      'decisions.response.answers.address at byte 7: length 9 runs past the end of its message at byte 9',
    );
    // ecs_scope sent as a string.
    expect(() => decodeDecisionBatch(Uint8Array.from([0x0a, 0x05, 0x12, 0x03, 0x32, 0x01, 0x30]))).toThrow('decisions.response.ecs_scope at byte 4: wire type length-delimited, expected varint');
  });
});
