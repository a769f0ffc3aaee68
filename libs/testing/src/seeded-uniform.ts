/**
 * Seeded sources of the tests and benchmarks (mulberry32): the same seed gives the same sequence on
 * every run and machine, so a randomised test, a fuzz case or a benchmark's workload that fails can
 * be replayed.
 */

/** Uniformly distributed unsigned 32-bit integers. */
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

/** Uniform numbers in [0, 1): the same sequence as {@link createSeededU32}, divided by 2^32. */
export function createSeededUniform(seed: number): () => number {
  const next = createSeededU32(seed);
  return () => next() / 4_294_967_296;
}
