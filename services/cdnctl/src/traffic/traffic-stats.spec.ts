import { describe, expect, it } from 'vitest';
import { createProgressLine, formatProgress } from './progress-line.js';
import { formatTrafficSummary } from './traffic-report.js';
import { createTrafficStats, statusName } from './traffic-stats.js';

describe('createTrafficStats', () => {
  it('counts queries, requests, degraded answers and errors by status name', () => {
    const s = createTrafficStats();
    s.requestSent(3);
    s.decision(1000, false);
    s.decision(2000, true);
    s.itemError(3000, 5);
    s.requestDone(3000);
    s.requestSent(2);
    s.requestFailed(14, 2);
    const sum = s.summary(2000, { rps: 0, queries: 0 });
    expect(sum.queries).toEqual({ sent: 5, ok: 2, failed: 3, degraded: 1 });
    expect(sum.requests).toEqual({ sent: 2, ok: 1, failed: 1 });
    expect(sum.errors).toEqual({ UNAVAILABLE: 2, NOT_FOUND: 1 });
    expect(sum.requestErrors).toEqual({ UNAVAILABLE: 1 });
    expect(sum.achieved).toEqual({ queriesPerS: 1.5, requestsPerS: 0.5 });
    expect(sum.offered).toEqual({ rps: null, queries: 5, unsent: 0 });
  });

  it('reports latency percentiles in ms from microsecond records', () => {
    const s = createTrafficStats();
    for (let i = 1; i <= 1000; i++) s.decision(i * 10, false);
    const l = s.summary(1000, { rps: 0, queries: 0 }).latencyMs.query;
    expect(l.count).toBe(1000);
    expect(l.p50).toBeCloseTo(5, 1);
    expect(l.p99).toBeCloseTo(9.9, 1);
    expect(l.p999).toBeCloseTo(9.99, 1);
    expect(l.max).toBeCloseTo(10, 1);
  });

  it('reports the unsent part of a paced offer', () => {
    const s = createTrafficStats();
    s.requestSent(70);
    expect(s.summary(1000, { rps: 100, queries: 100 }).offered).toEqual({ rps: 100, queries: 100, unsent: 30 });
  });

  it('gives progress samples per interval and resets the interval percentile', () => {
    const s = createTrafficStats();
    s.requestSent(2);
    s.decision(4000, false);
    const p1 = s.progress();
    // HDR keeps 3 significant digits: 4 ms reads back within 0.1 %.
    expect(p1).toEqual({ queriesSent: 2, decisions: 1, failed: 0, degraded: 0, inFlight: 1, p99Ms: expect.closeTo(4, 2) as unknown });
    s.itemError(500, 3);
    s.requestDone(500);
    const p2 = s.progress();
    expect(p2).toEqual({ queriesSent: 0, decisions: 1, failed: 1, degraded: 0, inFlight: 0, p99Ms: expect.closeTo(0.5, 2) as unknown });
    expect(s.progress().p99Ms).toBe(0);
  });

  it('adds runs into a total', () => {
    const total = createTrafficStats();
    for (const latencyUs of [1000, 3000]) {
      const step = createTrafficStats();
      step.requestSent(1);
      step.decision(latencyUs, false);
      step.requestDone(latencyUs);
      step.requestSent(1);
      step.requestFailed(4, 1);
      step.addTo(total);
    }
    const sum = total.summary(1000, { rps: 0, queries: 0 });
    expect(sum.queries).toEqual({ sent: 4, ok: 2, failed: 2, degraded: 0 });
    expect(sum.latencyMs.request.count).toBe(2);
    expect(sum.latencyMs.request.max).toBeCloseTo(3, 2);
    expect(sum.errors).toEqual({ DEADLINE_EXCEEDED: 2 });
  });

  it('names status codes, and keeps unknown ones as numbers', () => {
    expect(statusName(5)).toBe('NOT_FOUND');
    expect(statusName(99)).toBe('99');
  });
});

describe('progress line and report', () => {
  const sample = { queriesSent: 1000, decisions: 998, failed: 3, degraded: 1, inFlight: 4, p99Ms: 1.254 };

  it('formats the offered and achieved rates per second of the interval', () => {
    expect(formatProgress('replay', sample, 12_000, 1000, 1000)).toBe(
      'replay [12s] offered 1,000 q/s, achieved 998 q/s, 4 in flight, errors 3, degraded 1, p99 1.25 ms',
    );
    expect(formatProgress('replay', sample, 12_000, 500, 0)).toMatch(/^replay \[12s\] achieved 1,996 q\/s,/);
  });

  it('rewrites the line in place on a terminal and appends lines otherwise', () => {
    const tty: string[] = [];
    const ttyLine = createProgressLine({ isTTY: true, write: (t: string) => tty.push(t) }, 'x', 0);
    ttyLine.update(sample, 1000, 1000);
    ttyLine.update(sample, 2000, 1000);
    ttyLine.done();
    expect(tty[0]).toMatch(/^\rx \[1s\] /);
    expect(tty[0]!.endsWith('\x1b[K')).toBe(true);
    expect(tty[1]).toMatch(/^\rx \[2s\] /);
    expect(tty[2]).toBe('\n');
    const plain: string[] = [];
    const plainLine = createProgressLine({ write: (t: string) => plain.push(t) }, 'x', 0);
    plainLine.update(sample, 1000, 1000);
    plainLine.done();
    expect(plain).toHaveLength(1);
    expect(plain[0]).toMatch(/^x \[1s\] .*\n$/);
  });

  it('prints every figure in the human report', () => {
    const s = createTrafficStats();
    s.requestSent(10);
    for (let i = 0; i < 9; i++) s.decision(2000, i === 0);
    s.itemError(2000, 5);
    s.requestDone(2000);
    const text = formatTrafficSummary('replay q.log', s.summary(1000, { rps: 20, queries: 20 }), 'stream');
    expect(text).toContain('replay q.log: 1.0 s');
    expect(text).toMatch(/offered +20 q\/s \(20 queries\); 10 never sent/);
    expect(text).toMatch(/queries +10 sent, 9 ok, 1 failed, 1 degraded/);
    expect(text).toMatch(/batches +1 sent, 1 ok, 0 failed/);
    expect(text).toMatch(/latency per batch +p50 2\.00 ms/);
    expect(text).toMatch(/errors \(queries\) +NOT_FOUND 1/);
    expect(text).toMatch(/errors \(batches\) +none/);
  });
});
