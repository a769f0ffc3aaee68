import { hashString, mix32 } from './hash.js';

const TWO_POW_32 = 4294967296;
const MAX_K = 64;
// Scratch for topK: module level so a pick allocates nothing (the resolver's hot path).
const scratchScores = new Float64Array(MAX_K);

/**
 * Score of `member` for `key` in weighted rendezvous (highest-random-weight) hashing, by the
 * logarithmic method: score = -w / ln(u), u uniform in (0,1) drawn from hash(key, member).
 * The member with the highest score wins, with probability proportional to its weight, and removing
 * a member moves only the keys it owned (Thaler & Ravishankar 1998; Schindelhauer & Schomaker 2005,
 * "Weighted distributed hash tables"). A weight <= 0 never wins.
 */
export function weightedScore(keyHash: number, memberHash: number, weight: number): number {
  if (!(weight > 0)) return -Infinity;
  const u = (mix32(keyHash, memberHash) + 0.5) / TWO_POW_32;
  return -weight / Math.log(u);
}

/** Unweighted score: every member has the same weight, so the raw draw orders them. */
export function score(keyHash: number, memberHash: number): number {
  return mix32(keyHash, memberHash);
}

/**
 * Writes into `out` the indices of the `k` members with the highest score for `keyHash`, best
 * first, and returns how many were written (min(k, members with weight > 0)). `weights` null means
 * all equal. Allocation-free; k is at most 64.
 */
export function topK(
  keyHash: number,
  memberHashes: ArrayLike<number>,
  weights: ArrayLike<number> | null,
  k: number,
  out: Int32Array,
): number {
  const limit = Math.min(k, MAX_K, out.length);
  let n = 0;
  for (let i = 0; i < memberHashes.length; i++) {
    const s = weights === null ? score(keyHash, memberHashes[i]!) : weightedScore(keyHash, memberHashes[i]!, weights[i]!);
    if (s === -Infinity) continue;
    if (n < limit) n++;
    else if (s <= scratchScores[n - 1]!) continue;
    // Insertion into the sorted prefix; ties broken by lower index for determinism.
    let j = n - 1;
    while (j > 0 && scratchScores[j - 1]! < s) {
      scratchScores[j] = scratchScores[j - 1]!;
      out[j] = out[j - 1]!;
      j--;
    }
    scratchScores[j] = s;
    out[j] = i;
  }
  return n;
}

/**
 * Convenience for cold paths (prober assignment): the `k` members of `members` that own `key`,
 * best first. Equal weights.
 */
export function rendezvousOwners(key: string, members: readonly string[], k: number): string[] {
  const keyHash = hashString(key);
  const hashes = members.map(hashString);
  const out = new Int32Array(Math.min(k, MAX_K));
  const n = topK(keyHash, hashes, null, k, out);
  return Array.from(out.subarray(0, n), (i) => members[i]!);
}
