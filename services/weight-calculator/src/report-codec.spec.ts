import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProbeErrorClass, ReportProbesRequestSchema } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { decodeReportProbesRequest } from './report-codec.js';
import { createSeededUniform } from '@cdn-sched/testing';

describe('ReportProbes wire decoder', () => {
  it('decodes exactly like the reflective decoder (1,000 random batches)', () => {
    const rand = createSeededUniform(11);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < 1000; i++) {
      const msg = create(ReportProbesRequestSchema, {
        proberId: pick(['', 'p1', 'prober-çé']),
        seq: BigInt(Math.floor(rand() * 2 ** 40)),
        results: Array.from({ length: Math.floor(rand() * 6) }, () => ({
          nodeId: pick(['', 'n1', 'edge-42']),
          ok: rand() < 0.5,
          errorClass: pick([ProbeErrorClass.UNSPECIFIED, ProbeErrorClass.TIMEOUT, ProbeErrorClass.BAD_BODY]),
          errorDetail: pick(['', 'connect ECONNREFUSED']),
          connectMs: pick([0, rand() * 100, Number.NaN, -1]),
          ttfbMs: rand() * 50,
          totalMs: pick([0, rand() * 500, Number.POSITIVE_INFINITY]),
          statusCode: pick([0, 200, 503]),
          load: pick([-1, 0, rand()]),
          startedAtMs: pick([0n, BigInt(Date.now()), -5n]),
        })),
        traceparent: pick(['', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01']),
      });
      const bytes = toBinary(ReportProbesRequestSchema, msg);
      const { invalidResults, ...decoded } = decodeReportProbesRequest(bytes);
      expect(invalidResults).toEqual([]);
      expect(decoded).toEqual(fromBinary(ReportProbesRequestSchema, bytes));
    }
  });

  it('skips fields it does not know', () => {
    // field 1 "p", then field 15 (varint 7): a newer prober's extra field.
    const bytes = new Uint8Array([0x0a, 0x01, 0x70, 0x78, 0x07]);
    expect(decodeReportProbesRequest(bytes)).toMatchObject({ proberId: 'p', seq: 0n, results: [] });
  });
});
