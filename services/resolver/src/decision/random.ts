/**
 * Seedable uniform random numbers for the weighted strategy: Marsaglia's xorshift32 (Marsaglia
 * 2003, "Xorshift RNGs", J. Stat. Softw. 8(14), triple 13/17/5), period 2^32 - 1. Plenty for
 * spreading load over edges, deterministic for tests and benchmarks.
 *
 * The state is a one-element Int32Array advanced in place, not a closure: a call that returns a
 * fractional double, or a double kept in a closure variable, makes V8 allocate a heap number
 * whenever the call is not inlined, and the decision path must not allocate. Callers keep one state
 * per thread of decisions (one per process is fine: decisions are synchronous).
 */

/** A new xorshift32 state; seed 0 (which would stick at 0) is replaced by a fixed non-zero value. */
export function createRng(seed: number): Int32Array {
  const state = new Int32Array(1);
  state[0] = seed | 0 || 0x2545f491;
  return state;
}

/**
 * Advances `state` and returns the new 32-bit value as a non-negative integer below 2^32. Hot
 * callers inline the three shifts themselves (see pick.ts); this is the reference.
 */
export function nextU32(state: Int32Array): number {
  let x = state[0]!;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  state[0] = x;
  return x >>> 0;
}

/** Advances `state` and returns a uniform number in [0, 1). */
export function nextUniform(state: Int32Array): number {
  return nextU32(state) / 4294967296;
}
