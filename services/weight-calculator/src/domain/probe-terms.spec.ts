import { describe, expect, it } from 'vitest';
import { Health } from '@cdn-sched/proto';
import { createProbeTerms } from './probe-terms.js';

describe('createProbeTerms', () => {
  it('takes an UP node terms from the probers that say UP, ignoring a dissenting prober', () => {
    const terms = createProbeTerms();
    terms.add(true, Health.UP, 40, 0);
    terms.add(true, Health.UP, 60, 0.1);
    terms.add(true, Health.DOWN, 900, 0.8);
    expect(terms.rttEwmaMs(Health.UP)).toBe(50);
    expect(terms.lossRate(Health.UP)).toBeCloseTo(0.05, 12);
    expect(terms.rttEwmaMs(Health.DOWN)).toBe(900);
  });

  it('falls back to every fresh prober, then to stale ones', () => {
    const terms = createProbeTerms();
    terms.add(true, Health.UNKNOWN, 100, 0.5);
    terms.add(false, Health.UP, 10, 0);
    expect(terms.rttEwmaMs(Health.UP)).toBe(100);
    expect(terms.rttEwmaMs(Health.UNKNOWN)).toBe(100);
    terms.reset();
    terms.add(false, Health.UP, 10, 0.2);
    expect(terms.rttEwmaMs(Health.UP)).toBe(10);
    expect(terms.lossRate(Health.UP)).toBe(0.2);
  });

  it('reports -1 RTT and 0 loss when nothing was measured', () => {
    const terms = createProbeTerms();
    expect(terms.rttEwmaMs(Health.UP)).toBe(-1);
    expect(terms.lossRate(Health.UP)).toBe(0);
    terms.add(true, Health.DOWN, Number.NaN, -1);
    expect(terms.rttEwmaMs(Health.DOWN)).toBe(-1);
    expect(terms.lossRate(Health.DOWN)).toBe(0);
  });

  it('falls back per term: an UP prober without RTT does not hide another prober RTT', () => {
    const terms = createProbeTerms();
    terms.add(true, Health.UP, Number.NaN, 0);
    terms.add(true, Health.UNKNOWN, 70, 0.5);
    expect(terms.rttEwmaMs(Health.UP)).toBe(70);
    expect(terms.lossRate(Health.UP)).toBe(0);
  });
});
