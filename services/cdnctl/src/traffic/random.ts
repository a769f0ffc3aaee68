/** A seeded source of uniform random numbers: the same seed gives the same sequence everywhere. */
export interface Random {
  /** Uniform float in [0, 1), 32 bits of randomness. */
  next(): number;
  /** Uniform integer in [0, n) for 1 ≤ n ≤ 2^32. */
  int(n: number): number;
}

/**
 * Hashes a seed (number or text) to 32 bits with FNV-1a over its decimal/text form, so `--seed 7`
 * and `--seed seven` are both accepted and stable across runs and machines.
 */
function seedHash(seed: number | string, salt: number): number {
  const text = `${String(seed)}#${salt}`;
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Creates a seeded generator: Chris Doty-Humphrey's small fast counting generator (sfc32, from
 * PractRand), which passes PractRand's statistical tests and needs only 32-bit integer maths. Not
 * for cryptography; it picks addresses and domains for synthetic traffic.
 */
export function createRandom(seed: number | string): Random {
  let a = seedHash(seed, 1);
  let b = seedHash(seed, 2);
  let c = seedHash(seed, 3);
  let d = 1;
  const u32 = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  // The first outputs still carry the seed's structure; discarding a few is the usual warm-up.
  for (let i = 0; i < 12; i++) u32();
  return {
    next: () => u32() / 0x1_0000_0000,
    int: (n) => Math.floor((u32() / 0x1_0000_0000) * n),
  };
}
