import { createSeededRandom } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { WaitingQueries } from './decision-client.js';

describe('WaitingQueries', () => {
  it('agrees with a Map over random adds and out-of-order settles, across growth', () => {
    const rng = createSeededRandom(20_261_203);
    const ring = new WaitingQueries<{ id: number }>();
    const model = new Map<number, { id: number }>();
    let next = 1;
    for (let step = 0; step < 200_000; step++) {
      // Phases of many waiting queries (the ring grows past 1,024 slots) and of few.
      const addShare = Math.floor(step / 20_000) % 2 === 0 ? 0.6 : 0.4;
      if (rng.chance(addShare) || model.size === 0) {
        const q = { id: next++ };
        ring.add(q);
        model.set(q.id, q);
      } else {
        // Mostly the oldest, sometimes any waiting one, sometimes one already gone or never given.
        const ids = [...model.keys()];
        const id = rng.chance(0.7) ? ids[0]! : rng.chance(0.9) ? ids[rng.int(ids.length)]! : rng.int(next + 5);
        expect(ring.delete(id)).toBe(model.delete(id));
      }
      expect(ring.size).toBe(model.size);
      if (step % 1000 === 0) {
        expect(ring.list()).toEqual([...model.values()]);
        expect(ring.first()).toBe([...model.values()][0]);
        const probe = rng.int(next + 5);
        expect(ring.get(probe)).toBe(model.get(probe));
      }
    }
    expect(ring.get(Number.NaN)).toBeUndefined();
    expect(ring.get(2 ** 60)).toBeUndefined();
  });

  it('refuses an id that is not above every id added before', () => {
    const ring = new WaitingQueries<{ id: number }>();
    ring.add({ id: 5 });
    expect(() => ring.add({ id: 5 })).toThrow(/out of order/);
  });
});
