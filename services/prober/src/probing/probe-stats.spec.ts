import { ProbeErrorClass } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { probeFailure, probeSuccess } from './probe-result.js';
import { createProbeStats } from './probe-stats.js';

const ok = (totalMs: number) => probeSuccess('n', 0, { connectMs: 0, ttfbMs: totalMs, totalMs });
const failed = (cls: ProbeErrorClass) => probeFailure('n', 0, cls, 'x', { connectMs: 0, ttfbMs: 0, totalMs: 2000 });

describe('createProbeStats', () => {
  it('measures the rate over the window, forgetting older seconds', () => {
    let t = 0;
    const stats = createProbeStats({ now: () => t, rateWindowS: 10 });
    // 100 probes/s for 20 s, then 10/s for 10 s.
    for (; t < 20_000; t += 10) stats.record(ok(1));
    expect(stats.snapshot().probesPerS).toBeCloseTo(100, 0);
    for (; t < 30_000; t += 100) stats.record(ok(1));
    expect(stats.snapshot().probesPerS).toBeCloseTo(10, 0);
    t += 60_000;
    expect(stats.snapshot().probesPerS).toBe(0);
    expect(stats.snapshot().total).toBe(2100);
  });

  it('is right in the first second too', () => {
    let t = 0;
    const stats = createProbeStats({ now: () => t });
    for (; t < 500; t += 5) stats.record(ok(1));
    expect(stats.snapshot().probesPerS).toBeCloseTo(200, -1);
  });

  it('counts by class and takes RTT percentiles over successful probes only', () => {
    const stats = createProbeStats({ now: () => 0, rttSamples: 1000 });
    for (let i = 1; i <= 1000; i++) stats.record(ok(i));
    for (let i = 0; i < 50; i++) stats.record(failed(ProbeErrorClass.TIMEOUT));
    stats.record(failed(ProbeErrorClass.BAD_BODY));
    const snap = stats.snapshot();
    expect(snap.rttP50Ms).toBe(500);
    expect(snap.rttP99Ms).toBe(990);
    expect(snap.resultsByClass).toMatchObject({ up: 1000, timeout: 50, bad_body: 1, refused: 0 });
    // The ring keeps the newest samples.
    for (let i = 0; i < 1000; i++) stats.record(ok(3));
    expect(stats.snapshot().rttP99Ms).toBe(3);
  });
});
