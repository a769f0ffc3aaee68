import { describe, expect, it } from 'vitest';
import { createDamping } from './damping.js';
import { createSeededUniform } from '@cdn-sched/testing';

describe('createDamping', () => {
  const damping = createDamping();

  it('documents its defaults (20 % of capacity per 5 s)', () => {
    expect(damping.options).toEqual({ maxStepFraction: 0.2, stepIntervalMs: 5_000 });
  });

  it('moves at most 20 % of capacity per interval, up and down', () => {
    expect(damping.next(1000, 200, 1000, 5_000)).toBe(800);
    expect(damping.next(500, 1000, 1000, 5_000)).toBe(700);
  });

  it('reaches a target within the bound in one step', () => {
    expect(damping.next(1000, 900, 1000, 5_000)).toBe(900);
  });

  it('scales the bound with the elapsed time, so frequent ticks do not defeat it', () => {
    expect(damping.next(1000, 0.5, 1000, 1_000)).toBeCloseTo(960, 9);
    let weight = 1000;
    for (let i = 0; i < 20; i++) weight = damping.next(weight, 100, 1000, 250);
    expect(weight).toBeCloseTo(800, 9);
  });

  it('caps the elapsed time at one interval (a tick after a long pause still moves one step)', () => {
    expect(damping.next(1000, 100, 1000, 60_000)).toBe(800);
  });

  it('does not move with no elapsed time or a clock stepping back', () => {
    expect(damping.next(1000, 100, 1000, 0)).toBe(1000);
    expect(damping.next(1000, 100, 1000, -3_000)).toBe(1000);
  });

  it('drops to 0 at once: DOWN and DRAIN are decisions, not noise', () => {
    expect(damping.next(1000, 0, 1000, 0)).toBe(0);
    expect(damping.next(1000, -5, 1000, 5_000)).toBe(0);
  });

  it('jumps from 0 to the target (slow start ramps that case)', () => {
    expect(damping.next(0, 250, 1000, 0)).toBe(250);
  });

  it('flattens a noisy target: seeded noise of ±40 % moves the weight far less than the target', () => {
    const random = createSeededUniform(7);
    let weight = 1000;
    let targetTravel = 0;
    let weightTravel = 0;
    let previousTarget = 1000;
    for (let i = 0; i < 500; i++) {
      const target = 1000 * (0.6 + 0.8 * random());
      const next = damping.next(weight, target, 1000, 1_000);
      targetTravel += Math.abs(target - previousTarget);
      weightTravel += Math.abs(next - weight);
      expect(Math.abs(next - weight)).toBeLessThanOrEqual(40 + 1e-9);
      previousTarget = target;
      weight = next;
    }
    expect(weightTravel).toBeLessThan(targetTravel / 4);
  });

  it('rejects bad options', () => {
    expect(() => createDamping({ maxStepFraction: 0 })).toThrow(/maxStepFraction/);
    expect(() => createDamping({ maxStepFraction: 2 })).toThrow(/maxStepFraction/);
    expect(() => createDamping({ stepIntervalMs: 0 })).toThrow(/stepIntervalMs/);
  });
});
