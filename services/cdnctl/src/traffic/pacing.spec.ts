import { describe, expect, it } from 'vitest';
import { createSchedule } from './pacing.js';

describe('createSchedule', () => {
  it('spaces request slots by batch / rate, from the start', () => {
    const s = createSchedule({ rps: 1000, batchSize: 50, totalQueries: 1000 });
    expect(s.intervalMs).toBe(50);
    expect(s.requestCount).toBe(20);
    expect([0, 1, 2, 19].map((k) => s.dueMs(k))).toEqual([0, 50, 100, 950]);
  });

  it('gives unary runs one slot per query', () => {
    const s = createSchedule({ rps: 200, batchSize: 1, totalQueries: 3 });
    expect([0, 1, 2].map((k) => s.dueMs(k))).toEqual([0, 5, 10]);
    expect(s.requestCount).toBe(3);
  });

  it('cuts the last batch short at the end of the log', () => {
    const s = createSchedule({ rps: 0, batchSize: 40, totalQueries: 100 });
    expect(s.requestCount).toBe(3);
    expect([0, 1, 2].map((k) => s.slice(k))).toEqual([
      { first: 0, count: 40 },
      { first: 40, count: 40 },
      { first: 80, count: 20 },
    ]);
  });

  it('offers exactly rate × duration queries when paced for a duration, looping past the log', () => {
    const s = createSchedule({ rps: 300, batchSize: 100, durationMs: 2000 });
    expect(s.queryCount).toBe(600);
    expect(s.requestCount).toBe(6);
    expect(s.dueMs(5)).toBeCloseTo(1666.67, 1);
    // Every slot lies inside the run.
    expect(s.dueMs(s.requestCount - 1)).toBeLessThan(2000);
    const odd = createSchedule({ rps: 250, batchSize: 100, durationMs: 1000 });
    expect(odd.queryCount).toBe(250);
    expect(odd.slice(2)).toEqual({ first: 200, count: 50 });
  });

  it('stops starting requests at the end of the duration, or after the last one', () => {
    const timed = createSchedule({ rps: 0, batchSize: 10, durationMs: 1000 });
    expect(timed.requestCount).toBe(Infinity);
    expect(timed.mayStart(1_000_000, 999)).toBe(true);
    expect(timed.mayStart(0, 1000)).toBe(false);
    const counted = createSchedule({ rps: 100, batchSize: 10, totalQueries: 30 });
    expect(counted.mayStart(2, 1e9)).toBe(true);
    expect(counted.mayStart(3, 0)).toBe(false);
  });

  it('counts the queries whose slot has come (the offered load so far)', () => {
    const s = createSchedule({ rps: 100, batchSize: 10, durationMs: 1000 });
    expect(s.offeredQueries(-1)).toBe(0);
    expect(s.offeredQueries(0)).toBe(10);
    expect(s.offeredQueries(99.9)).toBe(10);
    expect(s.offeredQueries(100)).toBe(20);
    expect(s.offeredQueries(5000)).toBe(100);
    expect(createSchedule({ rps: 0, batchSize: 10, durationMs: 1000 }).offeredQueries(500)).toBe(0);
  });

  it('refuses a negative rate, a batch below 1 and an unbounded run', () => {
    expect(() => createSchedule({ rps: -1, batchSize: 1, totalQueries: 1 })).toThrow(RangeError);
    expect(() => createSchedule({ rps: 1, batchSize: 0, totalQueries: 1 })).toThrow(/batch size/);
    expect(() => createSchedule({ rps: 1, batchSize: 1 })).toThrow(/query count or a duration/);
  });
});
