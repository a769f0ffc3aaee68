import { describe, expect, it } from 'vitest';
import { Health } from '@cdn-sched/proto';
import { createMaterialChange } from './material-change.js';

describe('createMaterialChange', () => {
  const filter = createMaterialChange();
  const up = (weight: number) => ({ weight, health: Health.UP });

  it('documents its defaults (1 %; 5 % of the full weight while ramping)', () => {
    expect(filter.options).toEqual({ materialChangeRatio: 0.01, rampPublishStep: 0.05 });
  });

  it('always publishes a node never published', () => {
    expect(filter.isMaterial(undefined, up(0))).toBe(true);
  });

  it('ignores changes of 1 % or less, publishes larger ones', () => {
    expect(filter.isMaterial(up(1000), up(1000))).toBe(false);
    expect(filter.isMaterial(up(1000), up(1009))).toBe(false);
    expect(filter.isMaterial(up(1000), up(991))).toBe(false);
    expect(filter.isMaterial(up(1000), up(1011))).toBe(true);
    expect(filter.isMaterial(up(1000), up(985))).toBe(true);
  });

  it('publishes any zero crossing and any health change', () => {
    expect(filter.isMaterial(up(1000), up(0))).toBe(true);
    expect(filter.isMaterial(up(0), up(0.001))).toBe(true);
    expect(filter.isMaterial(up(1000), { weight: 1000, health: Health.UNKNOWN })).toBe(true);
  });

  it('is relative, so small nodes are treated like large ones', () => {
    expect(filter.isMaterial(up(10), up(10.05))).toBe(false);
    expect(filter.isMaterial(up(10), up(10.2))).toBe(true);
  });

  it('while a node ramps, holds back changes of up to 5 % of its full weight', () => {
    // Full weight 1000, at 30 % share: 1 % of 300 would be 3; the step is 50.
    const ramping = (weight: number) => ({ weight, health: Health.UP, ramp: weight / 1000, fullWeight: 1000 });
    expect(filter.isMaterial(up(300), ramping(315))).toBe(false);
    expect(filter.isMaterial(up(300), ramping(350))).toBe(false);
    expect(filter.isMaterial(up(300), ramping(351))).toBe(true);
    // Downwards too (a ramping node whose target fell), and still any zero crossing or health change.
    expect(filter.isMaterial(up(300), ramping(260))).toBe(false);
    expect(filter.isMaterial(up(300), { weight: 0, health: Health.UP, ramp: 0.3, fullWeight: 1000 })).toBe(true);
    expect(filter.isMaterial(up(300), { weight: 300, health: Health.DOWN, ramp: 0.3, fullWeight: 1000 })).toBe(true);
  });

  it('publishes the end of a ramp by the 1 % rule alone', () => {
    // The last ramp publication was at 96 %; share 1 is no longer a ramp, 4 % is material.
    expect(filter.isMaterial(up(960), { weight: 1000, health: Health.UP, ramp: 1, fullWeight: 1000 })).toBe(true);
    expect(filter.isMaterial(up(995), { weight: 1000, health: Health.UP, ramp: 1, fullWeight: 1000 })).toBe(false);
  });

  it('rampPublishStep 0 publishes a ramp by the 1 % rule', () => {
    const every = createMaterialChange({ rampPublishStep: 0 });
    expect(every.isMaterial(up(300), { weight: 304, health: Health.UP, ramp: 0.304, fullWeight: 1000 })).toBe(true);
    expect(() => createMaterialChange({ rampPublishStep: 1 })).toThrow(/rampPublishStep/);
  });

  it('honours a configured ratio, and 0 publishes every change', () => {
    expect(createMaterialChange({ materialChangeRatio: 0.05 }).isMaterial(up(1000), up(1040))).toBe(false);
    expect(createMaterialChange({ materialChangeRatio: 0 }).isMaterial(up(1000), up(1000.001))).toBe(true);
    expect(() => createMaterialChange({ materialChangeRatio: 1 })).toThrow(/materialChangeRatio/);
  });
});
