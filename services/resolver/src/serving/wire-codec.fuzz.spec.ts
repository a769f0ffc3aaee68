import { fromBinary } from '@bufbuild/protobuf';
import { ecsV4Address, ecsV4PrefixLen, formatIpv4, parseEcsSubnet, parseIpv4 } from '@cdn-sched/geoip';
import { ResolveRequestSchema, ResolveStreamRequestSchema, type ResolveRequest } from '@cdn-sched/proto';
import { ServiceError } from '@cdn-sched/service-kit';
import { createSeededRandom, fuzzFrame, pickFaults, type Fault, type FuzzSchema } from '@cdn-sched/testing';
import { Status } from 'nice-grpc';
import { describe, expect, it } from 'vitest';
import type { ResolveInput } from './resolve-core.js';
import { BatchInputs, decodeResolveRequestBytes, decodeResolveStreamRequest, type BatchLimits } from './wire-codec.js';

// The decoders under test, by their exported names: a rewrite of the codec only has to keep these
// two functions (or re-point these constants) to stay covered.
// Batches decode alternately into fresh objects and into one reused set (as the ResolveStream
// handler does): a field left over from an earlier case would show as a difference from the oracle.
const reused = new BatchInputs();
let decodes = 0;
const decodeBatch = (bytes: Uint8Array, limits?: BatchLimits): ReturnType<typeof decodeResolveStreamRequest> =>
  decodeResolveStreamRequest(bytes, limits, decodes++ % 2 === 0 ? reused : undefined);
const decodeUnary = decodeResolveRequestBytes;

const CASES = Number(process.env['FUZZ_CASES'] ?? 100_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_201);

// proto/cdn/sched/v1/resolver.proto
const resolveRequest: FuzzSchema = { 1: 'uint64', 2: 'string', 3: 'string', 4: 'string', 5: 'uint32', 6: 'bool' };
const resolveStreamRequest: FuzzSchema = { 1: { message: resolveRequest, repeated: true }, 2: 'string' };

/** A clear refusal names the field and the byte offset. */
const CLEAR = /^[A-Za-z_\][0-9.]+ at byte \d+: .+/;

/** Our decoded query equals the reflective decoder's, field by field. */
function sameQuery(ours: ResolveInput, oracle: ResolveRequest): string | undefined {
  if (BigInt(ours.queryId) !== oracle.queryId) return `query_id ${ours.queryId} != ${oracle.queryId}`;
  // The codec parses a dotted quad straight from the bytes; the same address as text must parse to it.
  if (ours.clientIpV4 !== undefined && ours.clientIpV4 >= 0 ? parseIpv4(oracle.clientIp) !== ours.clientIpV4 : ours.clientIp !== oracle.clientIp) return `client_ip ${ours.clientIpV4 !== undefined && ours.clientIpV4 >= 0 ? ours.clientIpV4 : ours.clientIp} != ${oracle.clientIp}`;
  // An IPv4 subnet parsed from the bytes must be what parseEcsSubnet makes of the same text.
  if (ours.ecsV4Subnet !== undefined && ours.ecsV4Subnet >= 0) {
    const want = parseEcsSubnet(oracle.ecsSubnet);
    if (ours.ecsSubnet !== '' || want.family !== 4 || want.v4 !== ecsV4Address(ours.ecsV4Subnet) || want.prefixLen !== ecsV4PrefixLen(ours.ecsV4Subnet)) {
      return `ecs_subnet ${formatIpv4(ecsV4Address(ours.ecsV4Subnet))}/${ecsV4PrefixLen(ours.ecsV4Subnet)} != ${oracle.ecsSubnet}`;
    }
  } else if (ours.ecsSubnet !== oracle.ecsSubnet) return `ecs_subnet ${ours.ecsSubnet} != ${oracle.ecsSubnet}`;
  if (ours.domain !== oracle.domain) return `domain ${ours.domain} != ${oracle.domain}`;
  if (ours.answers !== oracle.answers) return `answers ${ours.answers} != ${oracle.answers}`;
  if (ours.compact !== oracle.compact) return `compact ${ours.compact} != ${oracle.compact}`;
  return undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe(`resolver wire decoders vs the reflective decoder (${CASES} seeded cases each, seed ${SEED})`, () => {
  it('ResolveStreamRequest: both accept with equal values, or ours refuses clearly (the batch, or the item)', () => {
    const rng = createSeededRandom(SEED);
    const tally = { bothAccept: 0, oursRefusesBatch: 0, oursRefusesItems: 0, oracleRefuses: 0 };
    const byFault = new Map<Fault, number>();
    for (let i = 0; i < CASES; i++) {
      const faults = pickFaults(rng);
      for (const f of faults) byFault.set(f, (byFault.get(f) ?? 0) + 1);
      const bytes = fuzzFrame(resolveStreamRequest, rng, faults);
      let oracle: ReturnType<typeof fromBinary<typeof ResolveStreamRequestSchema>> | undefined;
      try {
        oracle = fromBinary(ResolveStreamRequestSchema, bytes);
      } catch {
        oracle = undefined;
      }
      const ours = decodeBatch(bytes, { maxBatch: 1_000_000, maxBatchBytes: 1 << 30 });
      const where = `case ${i} [${[...faults].join(',')}] ${hex(bytes)}`;
      if (ours instanceof ServiceError) {
        if (!CLEAR.test(ours.detail)) throw new Error(`${where}: unclear refusal "${ours.detail}"`);
        tally.oursRefusesBatch++;
        if (!oracle) tally.oracleRefuses++;
        continue;
      }
      const invalid = ours.filter((q) => q.invalid !== undefined);
      for (const q of invalid) if (!CLEAR.test(q.invalid!)) throw new Error(`${where}: unclear item refusal "${q.invalid}"`);
      if (!oracle) {
        // The reflective decoder refused the frame: ours must not have accepted all of it.
        if (invalid.length === 0) throw new Error(`${where}: ours accepted what the reflective decoder refuses`);
        tally.oracleRefuses++;
        tally.oursRefusesItems++;
        continue;
      }
      // The reflective decoder does not check that a nested message ends where its length says (a
      // field running past it is read on into the parent's bytes), so after an item that ours
      // refuses the two framings may part (even with equal counts by chance): only the items
      // before it are compared. Without a refused item the counts must agree.
      const firstInvalid = ours.findIndex((q) => q.invalid !== undefined);
      const comparable = firstInvalid >= 0 ? firstInvalid : ours.length;
      if (firstInvalid < 0 && ours.length !== oracle.queries.length) throw new Error(`${where}: ${ours.length} queries, reflective ${oracle.queries.length}`);
      for (let k = 0; k < comparable; k++) {
        if (ours[k]!.invalid !== undefined) continue;
        const diff = sameQuery(ours[k]!, oracle.queries[k]!);
        if (diff) throw new Error(`${where}: queries[${k}] differs: ${diff}`);
      }
      if (firstInvalid < 0 && (ours.traceparent ?? '') !== oracle.traceparent) throw new Error(`${where}: traceparent ${ours.traceparent} != ${oracle.traceparent}`);
      if (invalid.length > 0) tally.oursRefusesItems++;
      else tally.bothAccept++;
    }
    console.log(`ResolveStreamRequest fuzz: ${JSON.stringify(tally)}`);
    // The generator must exercise both sides: valid frames accepted, malformed ones refused.
    expect(tally.bothAccept).toBeGreaterThan(CASES / 10);
    expect(tally.oursRefusesBatch + tally.oursRefusesItems).toBeGreaterThan(CASES / 10);
    expect(byFault.size).toBe(10);
  }, 600_000);

  it('ResolveRequest (unary): both accept with equal values, or ours refuses clearly', () => {
    const rng = createSeededRandom(SEED + 1);
    let accepted = 0;
    for (let i = 0; i < CASES; i++) {
      const bytes = fuzzFrame(resolveRequest, rng, pickFaults(rng));
      let oracle: ResolveRequest | undefined;
      try {
        oracle = fromBinary(ResolveRequestSchema, bytes);
      } catch {
        oracle = undefined;
      }
      const ours = decodeUnary(bytes);
      const where = `case ${i} ${hex(bytes)}`;
      if (ours.invalid !== undefined) {
        if (!CLEAR.test(ours.invalid)) throw new Error(`${where}: unclear refusal "${ours.invalid}"`);
        continue;
      }
      if (!oracle) throw new Error(`${where}: ours accepted what the reflective decoder refuses`);
      const diff = sameQuery(ours, oracle);
      if (diff) throw new Error(`${where}: ${diff}`);
      accepted++;
    }
    expect(accepted).toBeGreaterThan(CASES / 10);
  }, 600_000);

  it('refusals name the field and the byte offset', () => {
    // queries[0].domain declares 5 bytes, its message ends after 3 (a nested length past its parent).
    const nested = Uint8Array.from([0x0a, 0x03, 0x22, 0x05, 0x61, 0x0a, 0x02, 0x22, 0x00]);
    const batch = decodeBatch(nested) as ResolveInput[];
    expect(batch[0]!.invalid).toBe('queries[0].domain at byte 3: length 5 runs past the end of its message at byte 5');
    expect(batch[1]!.domain).toBe('');
    expect(batch[1]!.invalid).toBeUndefined();
    // query_id sent as a string: wrong wire type.
    expect(decodeUnary(Uint8Array.from([0x0a, 0x01, 0x31])).invalid).toBe('ResolveRequest.query_id at byte 0: wire type length-delimited, expected varint');
    // An 11-byte varint.
    expect(decodeUnary(Uint8Array.from([0x08, ...new Array<number>(10).fill(0x80), 0x01])).invalid).toMatch(/^ResolveRequest.query_id at byte 1: /);
    // Broken framing refuses the batch: the length of queries[0] runs past the end.
    expect(refusal(decodeBatch(Uint8Array.from([0x0a, 0x09, 0x22, 0x00])))).toEqual({ code: Status.INVALID_ARGUMENT, reason: 'malformed-batch', detail: 'queries[0] at byte 1: length 9 runs past the end of its message at byte 4' });
  });

  it('limits are enforced while decoding: bytes before any work, MAX_BATCH at the first query over it', () => {
    const one = [0x0a, 0x02, 0x28, 0x01];
    const frame = Uint8Array.from(Array.from({ length: 10_000 }, () => one).flat());
    expect(refusal(decodeBatch(frame, { maxBatch: 100, maxBatchBytes: 1 << 20 }))).toEqual({ code: Status.RESOURCE_EXHAUSTED, reason: 'batch-too-large', detail: 'batch has more than 100 queries; split it into smaller batches' });
    expect(refusal(decodeBatch(frame, { maxBatch: 1_000_000, maxBatchBytes: 1000 }))).toEqual({ code: Status.RESOURCE_EXHAUSTED, reason: 'batch-too-large', detail: 'batch of 40000 bytes is over the limit of 1000 bytes; split it into smaller batches' });
  });
});

/** The parts of a refused batch that reach the client. */
function refusal(decoded: ResolveInput[] | ServiceError): { code: Status; reason: string; detail: string } | undefined {
  return decoded instanceof ServiceError ? { code: decoded.code, reason: decoded.reason, detail: decoded.detail } : undefined;
}
