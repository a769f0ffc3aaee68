import { describe, expect, it } from 'vitest';
import { createSlowStart } from './slow-start.js';

describe('createSlowStart', () => {
  it('ramps linearly from the minimum share to 1 over slowStartMs by default', () => {
    const ramp = createSlowStart();
    expect(ramp.options).toEqual({ slowStartMs: 60_000, slowStartMinShare: 0.1, slowStartSteps: 0 });
    expect(ramp.share(0.1, 0)).toBeCloseTo(0.1, 12);
    expect(ramp.share(0.1, 30_000)).toBeCloseTo(0.55, 12);
    expect(ramp.share(0.1, 59_999)).toBeLessThan(1);
    expect(ramp.share(0.1, 60_000)).toBe(1);
    expect(ramp.share(0.1, 10 * 60_000)).toBe(1);
  });

  it('is monotonic in time', () => {
    const ramp = createSlowStart({ slowStartMs: 10_000 });
    let previous = 0;
    for (let t = 0; t <= 12_000; t += 250) {
      const share = ramp.share(0.1, t);
      expect(share).toBeGreaterThanOrEqual(previous);
      previous = share;
    }
  });

  it('continues from the share it is given (cold start), not from the minimum', () => {
    const ramp = createSlowStart();
    expect(ramp.share(0.25, 0)).toBeCloseTo(0.25, 12);
    expect(ramp.share(0.25, 30_000)).toBeCloseTo(0.625, 12);
  });

  it('steps when slowStartSteps > 0', () => {
    const ramp = createSlowStart({ slowStartMs: 40_000, slowStartSteps: 4 });
    expect(ramp.share(0.2, 9_999)).toBeCloseTo(0.2, 12);
    expect(ramp.share(0.2, 10_000)).toBeCloseTo(0.4, 12);
    expect(ramp.share(0.2, 25_000)).toBeCloseTo(0.6, 12);
    expect(ramp.share(0.2, 39_999)).toBeCloseTo(0.8, 12);
    expect(ramp.share(0.2, 40_000)).toBe(1);
  });

  it('is full share at once when disabled', () => {
    expect(createSlowStart({ slowStartMs: 0 }).share(0.1, 0)).toBe(1);
  });

  it('treats a clock stepping back as the start of the ramp', () => {
    expect(createSlowStart().share(0.1, -5_000)).toBeCloseTo(0.1, 12);
  });

  it('rejects bad options', () => {
    expect(() => createSlowStart({ slowStartMs: -1 })).toThrow(/slowStartMs/);
    expect(() => createSlowStart({ slowStartMinShare: 0 })).toThrow(/slowStartMinShare/);
    expect(() => createSlowStart({ slowStartMinShare: 1.5 })).toThrow(/slowStartMinShare/);
    expect(() => createSlowStart({ slowStartSteps: 2.5 })).toThrow(/slowStartSteps/);
  });
});
