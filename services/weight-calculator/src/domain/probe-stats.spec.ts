import { describe, expect, it } from 'vitest';
import { createProbeStats } from './probe-stats.js';
import { popcount } from './popcount.js';

describe('popcount', () => {
  it('counts set bits of 32-bit values', () => {
    expect(popcount(0)).toBe(0);
    expect(popcount(0b1011)).toBe(3);
    expect(popcount(0xffff_ffff)).toBe(32);
    expect(popcount(0x8000_0001)).toBe(2);
    for (let v = 0; v < 4096; v++) expect(popcount(v)).toBe(v.toString(2).split('1').length - 1);
  });
});

describe('createProbeStats', () => {
  const stats = createProbeStats();

  it('documents its defaults (20 probes, gain 0.25)', () => {
    expect(stats.options).toEqual({ lossWindowSize: 20, rttEwmaGain: 0.25 });
  });

  it('computes loss over the window, counting probes not yet made as successes', () => {
    let mask = 0;
    const push = (ok: boolean): void => {
      mask = stats.pushLoss(mask, ok);
    };
    expect(stats.lossRate(mask)).toBe(0);
    push(false);
    expect(stats.lossRate(mask)).toBe(0.05);
    push(true);
    push(false);
    expect(stats.lossRate(mask)).toBe(0.1);
    for (let i = 0; i < 18; i++) push(true);
    expect(stats.lossRate(mask)).toBe(0.05);
    push(true);
    expect(stats.lossRate(mask)).toBe(0.05);
    push(true);
    expect(stats.lossRate(mask)).toBe(0);
    for (let i = 0; i < 100; i++) push(i % 4 === 0);
    expect(stats.lossRate(mask)).toBe(0.75);
  });

  it('keeps exactly lossWindowSize probes, up to the 30-probe maximum', () => {
    const wide = createProbeStats({ lossWindowSize: 30 });
    let mask = 0;
    for (let i = 0; i < 100; i++) mask = wide.pushLoss(mask, false);
    expect(popcount(mask)).toBe(30);
    expect(mask).toBeLessThan(2 ** 30);
    expect(wide.lossRate(mask)).toBe(1);
  });

  it('seeds the EWMA with the first sample, then moves by the gain', () => {
    expect(stats.nextRttEwma(Number.NaN, 80)).toBe(80);
    expect(stats.nextRttEwma(80, 40)).toBe(70);
    let ewma = Number.NaN;
    for (let i = 0; i < 60; i++) ewma = stats.nextRttEwma(ewma, 200);
    expect(ewma).toBe(200);
  });

  it('rejects bad options', () => {
    expect(() => createProbeStats({ lossWindowSize: 0 })).toThrow(/lossWindowSize/);
    expect(() => createProbeStats({ lossWindowSize: 31 })).toThrow(/lossWindowSize/);
    expect(() => createProbeStats({ rttEwmaGain: 0 })).toThrow(/rttEwmaGain/);
    expect(() => createProbeStats({ rttEwmaGain: 1.5 })).toThrow(/rttEwmaGain/);
  });
});
