import { describe, expect, it } from 'vitest';
import { Health } from '@cdn-sched/proto';
import { createMaterialChange } from './material-change.js';

describe('createMaterialChange', () => {
  const filter = createMaterialChange();
  const up = (weight: number) => ({ weight, health: Health.UP });

  it('documents its default (1 %)', () => {
    expect(filter.options).toEqual({ materialChangeRatio: 0.01 });
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

  it('honours a configured ratio, and 0 publishes every change', () => {
    expect(createMaterialChange({ materialChangeRatio: 0.05 }).isMaterial(up(1000), up(1040))).toBe(false);
    expect(createMaterialChange({ materialChangeRatio: 0 }).isMaterial(up(1000), up(1000.001))).toBe(true);
    expect(() => createMaterialChange({ materialChangeRatio: 1 })).toThrow(/materialChangeRatio/);
  });
});
