import { TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { createVersionTraces, formatTraceparent, isSampledContext, parseTraceparent, sampledLinks } from './trace-context.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const SPAN = 'b7ad6b7169203331';

describe('traceparent values (W3C Trace Context)', () => {
  it('round-trips a sampled and an unsampled context', () => {
    for (const traceFlags of [TraceFlags.SAMPLED, TraceFlags.NONE]) {
      const value = formatTraceparent({ traceId: TRACE, spanId: SPAN, traceFlags });
      expect(value).toBe(`00-${TRACE}-${SPAN}-0${traceFlags}`);
      expect(parseTraceparent(value)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags, isRemote: true });
    }
    expect(isSampledContext(parseTraceparent(`00-${TRACE}-${SPAN}-01`))).toBe(true);
    expect(isSampledContext(parseTraceparent(`00-${TRACE}-${SPAN}-00`))).toBe(false);
  });

  it('ignores what the specification says to ignore: other versions, upper case, all-zero ids, bad lengths', () => {
    for (const bad of [
      '',
      `01-${TRACE}-${SPAN}-01`,
      `00-${TRACE.toUpperCase()}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE}-${SPAN}-1`,
      `00-${TRACE}0-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
    expect(parseTraceparent(undefined)).toBeUndefined();
  });

  it('links only to sampled contexts, at most max of them', () => {
    const sampled = { traceId: TRACE, spanId: SPAN, traceFlags: TraceFlags.SAMPLED };
    const unsampled = { ...sampled, traceFlags: TraceFlags.NONE };
    expect(sampledLinks([unsampled, undefined, sampled, sampled, sampled], 2)).toEqual([{ context: sampled }, { context: sampled }]);
    expect(sampledLinks([unsampled, undefined])).toEqual([]);
  });
});

describe('createVersionTraces', () => {
  it('keeps the latest versions only, by number or bigint', () => {
    const traces = createVersionTraces(2);
    const ctx = (n: number) => ({ traceId: TRACE, spanId: n.toString(16).padStart(16, '0'), traceFlags: TraceFlags.SAMPLED });
    traces.set(1, ctx(1));
    traces.set(2n, ctx(2));
    traces.set(3, undefined);
    expect(traces.get(1n)).toEqual(ctx(1));
    traces.set(3, ctx(3));
    expect(traces.get(1)).toBeUndefined();
    expect(traces.get(2)).toEqual(ctx(2));
    expect(traces.get(3n)).toEqual(ctx(3));
    // A string key names a version where numbers repeat across epochs.
    traces.set('epoch-b/3', ctx(4));
    expect(traces.get('epoch-b/3')).toEqual(ctx(4));
    expect(traces.get(3)).toEqual(ctx(3));
  });
});
