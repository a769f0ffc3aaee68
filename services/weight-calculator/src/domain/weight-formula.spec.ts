import { describe, expect, it } from 'vitest';
import { createWeightFormula } from './weight-formula.js';

const formula = createWeightFormula();
const base = { capacityRps: 1000, rttEwmaMs: 40, lossRate: 0, load: 0.3 };

describe('createWeightFormula', () => {
  it('documents its defaults', () => {
    expect(formula.options).toEqual({
      rttKneeMs: 200,
      rttExponent: 1,
      lossExponent: 2,
      lossTolerance: 0.05,
      loadKnee: 0.8,
      minQualityFactor: 0.05,
    });
  });

  it('gives a healthy, fast, lightly loaded node its full capacity', () => {
    expect(formula.target(base)).toBe(1000);
  });

  it('does not differentiate RTTs below the knee, and treats unknown RTT as no penalty', () => {
    expect(formula.target({ ...base, rttEwmaMs: 199 })).toBe(1000);
    expect(formula.target({ ...base, rttEwmaMs: -1 })).toBe(1000);
  });

  it('scales inversely with RTT above the knee', () => {
    expect(formula.latencyFactor(400)).toBeCloseTo(0.5, 12);
    expect(formula.target({ ...base, rttEwmaMs: 800 })).toBeCloseTo(250, 9);
    expect(createWeightFormula({ rttExponent: 2 }).latencyFactor(400)).toBeCloseTo(0.25, 12);
  });

  it('lets one lost probe in twenty cost nothing', () => {
    expect(formula.lossFactor(0.05)).toBe(1);
    expect(formula.target({ ...base, lossRate: 0.05 })).toBe(1000);
  });

  it('penalises loss above the tolerance more than proportionally', () => {
    const excess = (0.24 - 0.05) / 0.95;
    expect(formula.lossFactor(0.24)).toBeCloseTo((1 - excess) ** 2, 12);
    expect(formula.lossFactor(0.24)).toBeCloseTo(0.64, 12);
    expect(formula.target({ ...base, lossRate: 0.24 })).toBeCloseTo(640, 9);
    const plain = createWeightFormula({ lossTolerance: 0 });
    expect(plain.lossFactor(0.1)).toBeCloseTo(0.81, 12);
    expect(createWeightFormula({ lossTolerance: 0, lossExponent: 1 }).lossFactor(0.1)).toBeCloseTo(0.9, 12);
    expect(createWeightFormula({ lossExponent: 0 }).lossFactor(0.5)).toBe(1);
  });

  it('reduces share linearly above the load knee, and ignores unreported load', () => {
    expect(formula.headroomFactor(0.8)).toBe(1);
    expect(formula.headroomFactor(0.9)).toBeCloseTo(0.5, 12);
    expect(formula.headroomFactor(-1)).toBe(1);
    expect(formula.target({ ...base, load: 0.95 })).toBeCloseTo(250, 9);
    expect(formula.target({ ...base, load: -1 })).toBe(1000);
  });

  it('multiplies the factors', () => {
    const target = formula.target({ capacityRps: 1000, rttEwmaMs: 400, lossRate: 0.24, load: 0.9 });
    expect(target).toBeCloseTo(1000 * 0.5 * 0.64 * 0.5, 9);
  });

  it('never takes an UP node to 0 by soft signals (floor 5 % of capacity)', () => {
    expect(formula.target({ capacityRps: 1000, rttEwmaMs: 100_000, lossRate: 1, load: 1 })).toBeCloseTo(50, 9);
    expect(formula.lossFactor(1)).toBe(0);
    expect(formula.headroomFactor(1)).toBe(0);
  });

  it('is monotonic: worse RTT, loss or load never raise the target', () => {
    let previous = Infinity;
    for (let rtt = 0; rtt <= 5_000; rtt += 50) {
      const t = formula.target({ ...base, rttEwmaMs: rtt });
      expect(t).toBeLessThanOrEqual(previous);
      previous = t;
    }
    previous = Infinity;
    for (let loss = 0; loss <= 1; loss += 0.05) {
      const t = formula.target({ ...base, lossRate: loss });
      expect(t).toBeLessThanOrEqual(previous);
      previous = t;
    }
  });

  it('rejects bad options', () => {
    expect(() => createWeightFormula({ rttKneeMs: 0 })).toThrow(/rttKneeMs/);
    expect(() => createWeightFormula({ loadKnee: 1 })).toThrow(/loadKnee/);
    expect(() => createWeightFormula({ minQualityFactor: 0 })).toThrow(/minQualityFactor/);
    expect(() => createWeightFormula({ lossExponent: -1 })).toThrow(/lossExponent/);
    expect(() => createWeightFormula({ lossTolerance: 1 })).toThrow(/lossTolerance/);
    expect(() => createWeightFormula({ rttExponent: Number.NaN })).toThrow(/rttExponent/);
  });
});
