import { describe, expect, it } from 'vitest';
import { classifyFailure, createBackoff, createLatencyWindow, createTunedBreaker, deriveBreakerTimings } from './index.js';

describe('deriveBreakerTimings', () => {
  it('scales the timeout with p99 latency, clamped to floor and ceiling', () => {
    expect(deriveBreakerTimings(10).timeoutMs).toBe(1000);
    expect(deriveBreakerTimings(400).timeoutMs).toBe(2000);
    expect(deriveBreakerTimings(10_000).timeoutMs).toBe(15_000);
    expect(deriveBreakerTimings(Number.NaN).timeoutMs).toBe(15_000);
    expect(deriveBreakerTimings(400).resetTimeoutMs).toBe(4000);
    expect(deriveBreakerTimings(400, { timeoutFactor: 3, timeoutFloorMs: 100 }).timeoutMs).toBe(1200);
  });

  it('keeps a 150 ms-latency etcd well inside the timeout (the flapping failure a fixed timeout causes)', () => {
    // 150 ms injected each way gives ~300 ms watch latency; a call needing 3 round trips takes ~900 ms.
    const { timeoutMs } = deriveBreakerTimings(300);
    expect(timeoutMs).toBeGreaterThan(3 * 300);
  });
});

describe('latency window', () => {
  it('computes nearest-rank quantiles over the live window only', () => {
    const w = createLatencyWindow({ windowMs: 1000 });
    for (let i = 1; i <= 100; i++) w.record(i, 5000);
    expect(w.quantile(0.5, 5000)).toBe(50);
    expect(w.quantile(0.99, 5000)).toBe(99);
    w.record(1000, 5500);
    expect(w.count(5500)).toBe(101);
    expect(w.count(6100)).toBe(1);
    expect(w.quantile(0.99, 6100)).toBe(1000);
    w.record(Number.NaN, 6100);
    w.record(-1, 6100);
    expect(w.count(6100)).toBe(1);
    expect(Number.isNaN(createLatencyWindow().quantile(0.5, 0))).toBe(true);
  });
});

describe('backoff', () => {
  it('grows exponentially under a cap with full jitter and resets', () => {
    const b = createBackoff({ baseMs: 100, maxMs: 1000, random: () => 0.999 });
    const delays = Array.from({ length: 6 }, () => b.next());
    expect(delays).toEqual([100, 200, 400, 799, 999, 999]);
    b.reset();
    expect(b.next()).toBe(100);
    expect(createBackoff({ baseMs: 100, random: () => 0 }).next()).toBe(50);
  });
});

describe('classifyFailure', () => {
  it('separates connection failures, slowness and application errors', () => {
    expect(classifyFailure({ code: 'ECONNREFUSED' })).toBe('connection');
    expect(classifyFailure({ code: 14 })).toBe('connection');
    expect(classifyFailure({ code: 'ETIMEDOUT' })).toBe('slow');
    expect(classifyFailure({ code: 4 })).toBe('slow');
    expect(classifyFailure({ code: 3 })).toBe('application');
    expect(classifyFailure({ code: 11 })).toBe('application');
    expect(classifyFailure({ code: 'UNAVAILABLE', grpcCode: 14 })).toBe('connection');
    expect(classifyFailure({ code: 'TIMEOUT', grpcCode: 4 })).toBe('slow');
    expect(classifyFailure({ code: 'COMPACTED', grpcCode: 11 })).toBe('application');
  });
});

describe('createTunedBreaker', () => {
  const refused = () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));

  it('opens on refused connections and fails fast with EOPENBREAKER', async () => {
    const b = createTunedBreaker({ name: 't', latencyP99Ms: () => 10, volumeThreshold: 2 });
    for (let i = 0; i < 3; i++) await expect(b.fire(refused)).rejects.toThrow(/ECONNREFUSED|open/);
    expect(b.status().state).toBe('open');
    await expect(b.fire(() => Promise.resolve(1))).rejects.toMatchObject({ code: 'EOPENBREAKER' });
    expect(b.status().opens).toBe(1);
    b.shutdown();
  });

  it('does not open on slow calls while the upstream is alive, and does when it is not', async () => {
    let alive = true;
    const slow = (signal: AbortSignal) =>
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    const b = createTunedBreaker({
      name: 'slow',
      latencyP99Ms: () => 10,
      timeoutFloorMs: 20,
      timeoutFactor: 1,
      volumeThreshold: 2,
      upstreamAlive: () => alive,
    });
    expect(b.timings().timeoutMs).toBe(20);
    for (let i = 0; i < 4; i++) await expect(b.fire(slow)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
    expect(b.status().state).toBe('closed');
    expect(b.status().slowButAlive).toBe(4);
    alive = false;
    // 4 filtered successes are in the window: 5 real failures make 5/9 > 50 %.
    for (let i = 0; i < 5; i++) await expect(b.fire(slow)).rejects.toThrow();
    expect(b.status().state).toBe('open');
    b.shutdown();
  });

  it('treats application errors as proof of life', async () => {
    const b = createTunedBreaker({ name: 'app', latencyP99Ms: () => 10, volumeThreshold: 1 });
    for (let i = 0; i < 5; i++) {
      await expect(b.fire(() => Promise.reject(Object.assign(new Error('bad'), { code: 3 })))).rejects.toThrow('bad');
    }
    expect(b.status().state).toBe('closed');
    b.shutdown();
  });

  it('follows the latency it is given', async () => {
    let p99 = 100;
    const b = createTunedBreaker({ name: 'x', latencyP99Ms: () => p99 });
    expect(b.timings().timeoutMs).toBe(1000);
    p99 = 1000;
    expect(b.timings().timeoutMs).toBe(5000);
    await expect(b.fire(() => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(b.status().timeoutMs).toBe(5000);
    b.shutdown();
  });
});
