import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { ProbeErrorClass, ProbeResultSchema } from '@cdn-sched/proto';
import type { ProbeResult } from '@cdn-sched/proto';
import { createProbeValidator, rejectOutOfOrder, rejectUnknownNode } from './probe-validation.js';

const NOW = 1_700_000_000_000;

type ResultInit = Omit<MessageInitShape<typeof ProbeResultSchema>, 'startedAtMs' | '$typeName'> & { startedAtMs?: number };

function result(init: ResultInit = {}): ProbeResult {
  const { startedAtMs = NOW - 1_000, ...rest } = init;
  return create(ProbeResultSchema, {
    nodeId: 'n1',
    ok: true,
    connectMs: 3,
    ttfbMs: 20,
    totalMs: 25,
    statusCode: 200,
    load: 0.4,
    ...rest,
    startedAtMs: BigInt(startedAtMs),
  });
}

describe('createProbeValidator', () => {
  const validator = createProbeValidator();
  const check = (r: ProbeResult, proberId = 'p1') => validator.check(proberId, r, Number(r.startedAtMs), NOW);

  it('documents its defaults (60 s either way)', () => {
    expect(validator.options).toEqual({ maxClockSkewMs: 60_000, maxResultAgeMs: 60_000 });
  });

  it('accepts a well-formed result, a failure, and a result without load', () => {
    expect(check(result())).toBeUndefined();
    expect(check(result({ ok: false, errorClass: ProbeErrorClass.TIMEOUT, totalMs: 2_000 }))).toBeUndefined();
    expect(check(result({ load: -1 }))).toBeUndefined();
    expect(check(result({ load: 1, connectMs: 0 }))).toBeUndefined();
  });

  it.each([
    ['total_ms', { totalMs: Number.NaN }, 'node n1: total_ms must be a finite number >= 0, got NaN'],
    ['total_ms', { totalMs: -5 }, 'node n1: total_ms must be a finite number >= 0, got -5'],
    ['total_ms', { totalMs: Infinity }, 'node n1: total_ms must be a finite number >= 0, got Infinity'],
    ['connect_ms', { connectMs: -0.5 }, 'node n1: connect_ms must be a finite number >= 0, got -0.5'],
    ['ttfb_ms', { ttfbMs: Number.NaN }, 'node n1: ttfb_ms must be a finite number >= 0, got NaN'],
    ['load', { load: 1.5 }, 'node n1: load must be in [0, 1], or negative when not reported, got 1.5'],
    ['load', { load: Number.NaN }, 'node n1: load must be in [0, 1], or negative when not reported, got NaN'],
    ['load', { load: -Infinity }, 'node n1: load must be in [0, 1], or negative when not reported, got -Infinity'],
    ['started_at_ms', { startedAtMs: 0 }, 'node n1: started_at_ms must be a positive Unix time in milliseconds, got 0'],
    ['started_at_ms', { startedAtMs: -10 }, 'node n1: started_at_ms must be a positive Unix time in milliseconds, got -10'],
    ['ok/error_class', { errorClass: ProbeErrorClass.REFUSED }, 'node n1: ok is true but error_class is REFUSED'],
  ])('rejects a bad %s as INVALID_RESULT', (_field, init, message) => {
    expect(check(result(init))).toEqual({ accepted: false, code: 'INVALID_RESULT', error: message });
  });

  it('rejects empty ids', () => {
    expect(check(result(), '')).toEqual({ accepted: false, code: 'INVALID_RESULT', error: 'prober_id must not be empty' });
    expect(check(result({ nodeId: '' }))).toMatchObject({ code: 'INVALID_RESULT', error: 'node_id must not be empty' });
  });

  it('rejects results more than 60 s in the future, accepts small skew', () => {
    expect(check(result({ startedAtMs: NOW + 59_000 }))).toBeUndefined();
    expect(check(result({ startedAtMs: NOW + 61_000 }))).toEqual({
      accepted: false,
      code: 'CLOCK_SKEW',
      error:
        "node n1: started_at_ms is 61000 ms ahead of the weight-calculator's clock (limit 60000 ms); check the prober's clock",
    });
  });

  it('rejects results that are too old to be current', () => {
    expect(check(result({ startedAtMs: NOW - 60_000 }))).toBeUndefined();
    expect(check(result({ startedAtMs: NOW - 90_000 }))).toEqual({
      accepted: false,
      code: 'TOO_OLD',
      error: 'node n1: result started 90000 ms ago (limit 60000 ms); not applied',
    });
  });

  it('honours configured limits', () => {
    const strict = createProbeValidator({ maxClockSkewMs: 1_000, maxResultAgeMs: 5_000 });
    expect(strict.check('p', result(), NOW - 6_000, NOW)?.code).toBe('TOO_OLD');
    expect(strict.check('p', result(), NOW + 2_000, NOW)?.code).toBe('CLOCK_SKEW');
    expect(() => createProbeValidator({ maxClockSkewMs: -1 })).toThrow(/maxClockSkewMs/);
  });
});

describe('rejections that need table state', () => {
  it('names an unknown node', () => {
    expect(rejectUnknownNode('n9')).toEqual({ accepted: false, code: 'UNKNOWN_NODE', error: 'node n9: unknown node' });
  });

  it('tells a duplicate from a stale result', () => {
    expect(rejectOutOfOrder('n1', 'p1', 100, 100).error).toBe(
      'node n1: duplicate result from prober p1: started_at_ms 100 is not after the last applied 100; not applied',
    );
    expect(rejectOutOfOrder('n1', 'p1', 90, 100)).toMatchObject({ code: 'OUT_OF_ORDER', error: expect.stringMatching(/stale/) });
  });
});
