import { describe, expect, it } from 'vitest';
import { Health } from '@cdn-sched/proto';
import { createHysteresis } from './health-state.js';
import type { Hysteresis, HysteresisOptions } from './health-state.js';
import { createSeededUniform } from '@cdn-sched/testing';

/** Feeds a pattern like "oofo" (o = ok, f = failed) and returns the health after each probe. */
function run(h: Hysteresis, pattern: string, start = h.initial): { healths: Health[]; state: number } {
  let state = start;
  const healths: Health[] = [];
  for (const c of pattern) {
    state = h.step(state, c === 'o');
    healths.push(h.health(state));
  }
  return { healths, state };
}

const U = Health.UP;
const D = Health.DOWN;
const N = Health.UNKNOWN;

function transitions(healths: Health[]): number {
  let count = 0;
  for (let i = 1; i < healths.length; i++) if (healths[i] !== healths[i - 1]) count++;
  return count;
}

/** A plain reference model of the documented rules, to compare the packed one against. */
function reference(options: HysteresisOptions, pattern: boolean[]): Health[] {
  let health = Health.UNKNOWN;
  let window: boolean[] = []; // true = failed, newest last
  let run = 0;
  const out: Health[] = [];
  for (const ok of pattern) {
    window.push(!ok);
    if (window.length > options.windowSize) window.shift();
    run = ok ? run + 1 : 0;
    const failures = window.filter(Boolean).length;
    const rise = health === Health.UNKNOWN ? options.startupRiseThreshold : options.riseThreshold;
    if (health !== Health.UP && run >= rise) {
      health = Health.UP;
      window = [];
    } else if (health !== Health.DOWN && failures >= options.fallThreshold) {
      health = Health.DOWN;
    }
    out.push(health);
  }
  return out;
}

describe('createHysteresis', () => {
  const h = createHysteresis();

  it('starts UNKNOWN and documents its defaults (W=5, F=3, U=2, startup 1)', () => {
    expect(h.health(h.initial)).toBe(Health.UNKNOWN);
    expect(h.options).toEqual({ windowSize: 5, fallThreshold: 3, riseThreshold: 2, startupRiseThreshold: 1 });
  });

  it('goes UP on the first success from UNKNOWN, like Envoy at startup', () => {
    expect(run(h, 'o').healths).toEqual([U]);
    const strict = createHysteresis({ startupRiseThreshold: 2 });
    expect(run(strict, 'ooo').healths).toEqual([N, U, U]);
  });

  it('goes from UNKNOWN to DOWN only after F failures', () => {
    expect(run(h, 'fff').healths).toEqual([N, N, D]);
  });

  it('does not move on a single lost probe, nor on two in the window', () => {
    expect(run(h, 'ofooooo').healths.every((x) => x === U)).toBe(true);
    expect(run(h, 'ofofoooo').healths.every((x) => x === U)).toBe(true);
  });

  it('goes DOWN when F of the last W probes failed, even if not consecutive', () => {
    expect(run(h, 'ofofof').healths).toEqual([U, U, U, U, U, D]);
  });

  it('forgets failures that slid out of the window', () => {
    // Failures at probes 2, 6 and 9: never three within five probes.
    expect(run(h, 'ofooofoof').healths.every((x) => x === U)).toBe(true);
  });

  it('goes DOWN on the F-th consecutive failure of a dead node', () => {
    const { healths } = run(h, 'oooooofff');
    expect(healths.indexOf(D)).toBe(8);
  });

  it('keeps an alternating (flapping) edge DOWN instead of flipping every interval', () => {
    const pattern = 'o' + 'fo'.repeat(50);
    const { healths } = run(h, pattern);
    expect(transitions(healths)).toBe(1);
    expect(healths.at(-1)).toBe(D);
  });

  it('needs U consecutive successes to come back, and one lucky probe is not enough', () => {
    const down = run(h, 'offf').state;
    expect(h.health(down)).toBe(D);
    expect(run(h, 'o', down).healths).toEqual([D]);
    expect(run(h, 'ofofo', down).healths).toEqual([D, D, D, D, D]);
    expect(run(h, 'oo', down).healths).toEqual([D, U]);
  });

  it('recovers slowly through a noisy period: UP only at the first run of U successes', () => {
    const down = run(h, 'offf').state;
    expect(run(h, 'ofoffoo', down).healths).toEqual([D, D, D, D, D, D, U]);
  });

  it('clears the window on recovery, so the first lost probe afterwards does not flip it back', () => {
    const down = run(h, 'offf').state;
    const up = run(h, 'oo', down).state;
    expect(h.failures(up)).toBe(0);
    expect(run(h, 'foo', up).healths).toEqual([U, U, U]);
  });

  it('saturates the success run without corrupting the health bits', () => {
    const { state } = run(h, 'o'.repeat(1000));
    expect(h.successRun(state)).toBe(255);
    expect(h.health(state)).toBe(U);
    expect(state).toBeLessThan(2 ** 30);
  });

  it('honours other thresholds (W=10, F=4, U=3)', () => {
    const h2 = createHysteresis({ windowSize: 10, fallThreshold: 4, riseThreshold: 3 });
    expect(run(h2, 'ofoofoofoof').healths.indexOf(D)).toBe(10);
    const down = run(h2, 'offff').state;
    expect(run(h2, 'ooo', down).healths).toEqual([D, D, U]);
  });

  it('matches a plain reference model on seeded random sequences for many option sets', () => {
    const random = createSeededUniform(42);
    const sets: HysteresisOptions[] = [
      { windowSize: 5, fallThreshold: 3, riseThreshold: 2, startupRiseThreshold: 1 },
      { windowSize: 1, fallThreshold: 1, riseThreshold: 1, startupRiseThreshold: 1 },
      { windowSize: 20, fallThreshold: 7, riseThreshold: 5, startupRiseThreshold: 3 },
      { windowSize: 8, fallThreshold: 8, riseThreshold: 255, startupRiseThreshold: 255 },
      { windowSize: 3, fallThreshold: 2, riseThreshold: 4, startupRiseThreshold: 2 },
    ];
    for (const options of sets) {
      const machine = createHysteresis(options);
      for (let trial = 0; trial < 50; trial++) {
        const lossRate = random();
        const pattern = Array.from({ length: 300 }, () => random() >= lossRate);
        let state = machine.initial;
        let largest = 0;
        const packed = pattern.map((ok) => {
          state = machine.step(state, ok);
          largest = Math.max(largest, state);
          return machine.health(state);
        });
        expect(largest).toBeLessThan(2 ** 30);
        expect(packed).toEqual(reference(options, pattern));
      }
    }
  });

  it('rejects options out of range, naming the option', () => {
    expect(() => createHysteresis({ windowSize: 0 })).toThrow(/windowSize/);
    expect(() => createHysteresis({ windowSize: 21 })).toThrow(/windowSize/);
    expect(() => createHysteresis({ fallThreshold: 6 })).toThrow(/fallThreshold/);
    expect(() => createHysteresis({ riseThreshold: 0 })).toThrow(/riseThreshold/);
    expect(() => createHysteresis({ riseThreshold: 1.5 })).toThrow(/riseThreshold/);
    expect(() => createHysteresis({ startupRiseThreshold: 3 })).toThrow(/startupRiseThreshold/);
    expect(() => createHysteresis({ windowSize: Number.NaN })).toThrow(RangeError);
  });
});
