import { describe, expect, it } from 'vitest';
import { createSlotStore } from './slot-store.js';

describe('createSlotStore', () => {
  it('allocates initialised slots and counts them', () => {
    const store = createSlotStore(4);
    const a = store.allocate(7, 123);
    expect(store.prober[a]).toBe(7);
    expect(store.hysteresis[a]).toBe(123);
    expect(Number.isNaN(store.rttEwmaMs[a])).toBe(true);
    expect(store.lastStartedAtMs[a]).toBe(0);
    expect(store.liveCount).toBe(1);
  });

  it('reuses released slots and re-initialises them', () => {
    const store = createSlotStore(4);
    const a = store.allocate(1, 5);
    store.lossMask[a] = 0b111;
    store.rttEwmaMs[a] = 42;
    store.release(a);
    store.release(a);
    expect(store.liveCount).toBe(0);
    const b = store.allocate(2, 9);
    expect(b).toBe(a);
    expect([store.prober[b], store.hysteresis[b], store.lossMask[b]]).toEqual([2, 9, 0]);
    expect(Number.isNaN(store.rttEwmaMs[b])).toBe(true);
  });

  it('grows past its initial capacity and keeps every slot value', () => {
    const store = createSlotStore(2);
    const slots: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const s = store.allocate(i, i);
      store.rttEwmaMs[s] = i / 2;
      store.lastReceivedAtMs[s] = i * 10;
      slots.push(s);
    }
    expect(store.capacity).toBeGreaterThanOrEqual(1000);
    expect(new Set(slots).size).toBe(1000);
    for (let i = 0; i < 1000; i++) {
      expect([store.prober[slots[i]], store.hysteresis[slots[i]], store.rttEwmaMs[slots[i]], store.lastReceivedAtMs[slots[i]]]).toEqual([
        i,
        i,
        i / 2,
        i * 10,
      ]);
    }
  });
});
