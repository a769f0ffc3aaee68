import { fromBinary } from '@bufbuild/protobuf';
import { ReportProbesRequestSchema, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import { createSeededRandom, fuzzFrame, pickFaults, type FuzzSchema } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { decodeReportProbesRequest } from './report-codec.js';

// The decoder under test, by its exported name (a rewrite only has to keep it, or re-point this).
const decode = decodeReportProbesRequest;

const CASES = Number(process.env['FUZZ_CASES'] ?? 100_000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20_261_202);

// proto/cdn/sched/v1/weight_calculator.proto
const probeResult: FuzzSchema = { 1: 'string', 2: 'bool', 3: 'int32', 4: 'string', 5: 'double', 6: 'double', 7: 'double', 8: 'uint32', 9: 'double', 10: 'int64' };
const reportProbesRequest: FuzzSchema = { 1: 'string', 2: 'uint64', 3: { message: probeResult, repeated: true }, 4: 'string' };

const CLEAR = /^[A-Za-z_\][0-9.]+ at byte \d+: .+/;

const FIELDS = ['nodeId', 'ok', 'errorClass', 'errorDetail', 'connectMs', 'ttfbMs', 'totalMs', 'statusCode', 'load', 'startedAtMs'] as const;

function sameResult(ours: ProbeResult, oracle: ProbeResult): string | undefined {
  for (const f of FIELDS) if (!Object.is(ours[f], oracle[f])) return `${f} ${String(ours[f])} != ${String(oracle[f])}`;
  return undefined;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe(`ReportProbesRequest wire decoder vs the reflective decoder (${CASES} seeded cases, seed ${SEED})`, () => {
  it('both accept with equal values, or ours refuses clearly (the request, or the result)', () => {
    const rng = createSeededRandom(SEED);
    const tally = { bothAccept: 0, oursRefusesRequest: 0, oursRefusesResults: 0, oracleRefuses: 0 };
    for (let i = 0; i < CASES; i++) {
      const faults = pickFaults(rng);
      const bytes = fuzzFrame(reportProbesRequest, rng, faults);
      let oracle: ReportProbesRequest | undefined;
      try {
        oracle = fromBinary(ReportProbesRequestSchema, bytes);
      } catch {
        oracle = undefined;
      }
      const ours = decode(bytes);
      const where = `case ${i} [${[...faults].join(',')}] ${hex(bytes)}`;
      if (!oracle) tally.oracleRefuses++;
      if (ours.malformed !== undefined) {
        if (!CLEAR.test(ours.malformed)) throw new Error(`${where}: unclear refusal "${ours.malformed}"`);
        tally.oursRefusesRequest++;
        continue;
      }
      for (const e of ours.invalidResults) if (!CLEAR.test(e)) throw new Error(`${where}: unclear result refusal "${e}"`);
      if (!oracle) {
        if (ours.invalidResults.length === 0) throw new Error(`${where}: ours accepted what the reflective decoder refuses`);
        tally.oursRefusesResults++;
        continue;
      }
      if (ours.invalidResults.length > 0) {
        // After a refused result the reflective decoder's framing may differ (it does not check
        // nested ends): prober_id, seq and the results before the first refused one were already
        // decoded identically by both or the refusal came first; the request is not accepted whole.
        tally.oursRefusesResults++;
        continue;
      }
      if (ours.proberId !== oracle.proberId) throw new Error(`${where}: prober_id ${ours.proberId} != ${oracle.proberId}`);
      if (ours.seq !== oracle.seq) throw new Error(`${where}: seq ${ours.seq} != ${oracle.seq}`);
      if (ours.traceparent !== oracle.traceparent) throw new Error(`${where}: traceparent ${ours.traceparent} != ${oracle.traceparent}`);
      if (ours.results.length !== oracle.results.length) throw new Error(`${where}: ${ours.results.length} results, reflective ${oracle.results.length}`);
      for (let k = 0; k < ours.results.length; k++) {
        const diff = sameResult(ours.results[k]!, oracle.results[k]!);
        if (diff) throw new Error(`${where}: results[${k}] differs: ${diff}`);
      }
      tally.bothAccept++;
    }
    console.log(`ReportProbesRequest fuzz: ${JSON.stringify(tally)}`);
    expect(tally.bothAccept).toBeGreaterThan(CASES / 10);
    expect(tally.oursRefusesRequest + tally.oursRefusesResults).toBeGreaterThan(CASES / 10);
  }, 600_000);

  it('refusals name the field and the byte offset; a malformed result fails alone', () => {
    // results[0].node_id declares 4 bytes inside a 3-byte result; results[1] is fine.
    const bytes = Uint8Array.from([0x0a, 0x02, 0x70, 0x31, 0x1a, 0x03, 0x0a, 0x04, 0x61, 0x1a, 0x03, 0x0a, 0x01, 0x62]);
    const r = decode(bytes);
    expect(r.proberId).toBe('p1');
    expect(r.invalidResults).toEqual(['results[0].node_id at byte 7: length 4 runs past the end of its message at byte 9']);
    expect(r.results.map((x) => x.nodeId)).toEqual(['b']);
    // total_ms sent as a varint instead of a double.
    expect(decode(Uint8Array.from([0x1a, 0x02, 0x38, 0x05])).invalidResults).toEqual(['results[0].total_ms at byte 2: wire type varint, expected fixed64']);
    // Truncated prober_id: the request as a whole.
    expect(decode(Uint8Array.from([0x0a, 0x05, 0x70])).malformed).toBe('prober_id at byte 1: length 5 runs past the end of its message at byte 3');
  });
});
