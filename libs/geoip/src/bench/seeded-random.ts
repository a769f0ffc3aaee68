/**
 * A small seeded PRNG (mulberry32) for the benchmark and the tests: the same seed gives the same
 * addresses on every run and machine, so a failure or a figure can be reproduced.
 *
 * @returns a function giving uniformly distributed u32 values.
 */
export function createSeededU32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}
