import { mix32, rendezvousTableSlot } from '@cdn-sched/rendezvous';
import type { CandidateGroup } from './candidate-group.js';
import { MAX_ANSWERS } from './candidate-tables.js';
import { LOOKUP_MIN_MEMBERS } from './consistent-lookups.js';

/**
 * The two ways of picking answers inside a candidate group. Both write node indices into
 * `out[0..n)` and return n = min(k, positions with weight > 0): never a node of weight 0, never the
 * same node twice, never padded. Neither allocates: scratch lives at module level, which is safe
 * because a pick runs to completion synchronously.
 */

// Chosen intervals of the cumulative line, kept sorted by start (at most MAX_ANSWERS of them).
const chosenStart = new Float64Array(MAX_ANSWERS);
const chosenWidth = new Float64Array(MAX_ANSWERS);
const chosenPos = new Int32Array(MAX_ANSWERS);
// Scores of the current top k of pickConsistent, best first.
const scores = new Float64Array(MAX_ANSWERS);
const TWO_POW_32 = 4294967296;
// Group size from which pickConsistent bounds the draws (measured: below it the bound costs more).
const PRUNE_MIN_SIZE = 32;
// The line's total and the point searched for, handed to `searchLine` here rather than as
// arguments: a double passed to a call V8 does not inline is boxed into a fresh heap number, and
// pickWeighted's calls with four of them allocated 64 bytes a weighted answer (a sampling heap
// profile of `npm run bench -- serving-core`, which now reports bytes per decision).
const searchArgs = new Float64Array(2);

/**
 * Weighted random sampling without replacement ("successive sampling"): each answer is drawn with
 * probability proportional to its weight among the members not yet drawn. The first draw is a
 * search of the cumulative weights (`searchCumulative`); later draws pick a point on the line with the chosen
 * intervals cut out (r is shifted past each chosen interval that starts at or before it, in start
 * order), so there is no rejection loop however skewed the weights, and the cost is
 * O(k² + k log n) with the precomputed cumulative array left untouched.
 */
export function pickWeighted(group: CandidateGroup, k: number, rng: Int32Array, out: Int32Array): number {
  const n = Math.min(k, group.pickableCount, out.length, MAX_ANSWERS);
  const cumulative = group.cumulative;
  const size = group.size;
  const total = group.totalWeight;
  let remaining = total;
  for (let a = 0; a < n; a++) {
    // xorshift32 (random.ts), inlined: every double below stays in this frame, so V8 never has to
    // box one into a heap number to pass it across a call that might not be inlined.
    let x = rng[0]!;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    rng[0] = x;
    let r = ((x >>> 0) / 4294967296) * remaining;
    for (let j = 0; j < a; j++) {
      if (r >= chosenStart[j]!) r += chosenWidth[j]!;
      else break;
    }
    // The first position whose running sum exceeds r (never an empty interval).
    searchArgs[0] = total;
    searchArgs[1] = r;
    let pos = searchLine(cumulative, size);
    // The member's interval on the line. Its width is > 0 only when its weight is (a running sum
    // adding 0 stays the same), and it is read from the sums the search just touched: reading
    // `weights[pos]` instead costs a cache miss per answer in a large tier.
    let start = pos > 0 ? cumulative[pos - 1]! : 0;
    let width = pos < size ? cumulative[pos]! - start : 0;
    // Rounding can push r onto the end of the line or into a chosen or empty interval; take the
    // first free member of positive weight then, so the contract (distinct, weight > 0) holds.
    if (!(width > 0) || isChosen(pos, a)) {
      pos = firstFree(group, a);
      start = pos > 0 ? cumulative[pos - 1]! : 0;
      width = cumulative[pos]! - start;
    }
    insertChosen(a, pos, cumulative);
    remaining -= width;
    out[a] = group.nodes[pos]!;
  }
  return n;
}

/**
 * The first position i of `cumulative[0..size)` (non-decreasing, ending at `total`) with
 * cumulative[i] > r, or `size` when there is none: what a binary search over the whole array
 * returns, found from an interpolation guess (r / total of the way along) by galloping outwards
 * (steps 1, 2, 4 …) and then bisecting the bracket. Weights of a tier are of one order, so the
 * running sum stays near the straight line and the answer lies a few positions from the guess: the
 * search touches one or two cache lines where a bisection from the ends touches ~log2(size) − 3
 * (an ISP+region tier of a 100 k-node fleet has ~750 members, 6 KB of sums, and a decision that
 * misses the caches on each of them cost 0.56× the decisions per second of a 10 k-node fleet).
 * Skewed or zero weights only lengthen the gallop: at most about 2 × log2(size) probes.
 */
export function searchCumulative(cumulative: Float64Array, size: number, total: number, r: number): number {
  searchArgs[0] = total;
  searchArgs[1] = r;
  return searchLine(cumulative, size);
}

/**
 * `searchCumulative` with its total and r read from `searchArgs` (no heap numbers on the way in).
 * pickWeighted fills `searchArgs` and calls this itself rather than `searchCumulative`, so that
 * whether V8 inlines the wrapper does not decide whether a pick allocates.
 */
function searchLine(cumulative: Float64Array, size: number): number {
  const total = searchArgs[0]!;
  const r = searchArgs[1]!;
  if (size === 0) return 0;
  let guess = total > 0 ? Math.floor((r / total) * size) : 0;
  if (!(guess >= 0)) guess = 0; // NaN (r or total not finite) as well
  else if (guess >= size) guess = size - 1;
  // Invariant of the bisection below: cumulative[i] <= r for i < lo, > r for i >= hi.
  let lo: number;
  let hi: number;
  if (cumulative[guess]! > r) {
    hi = guess;
    lo = 0;
    for (let step = 1; ; step *= 2) {
      const probe = guess - step;
      if (probe < 0) break;
      if (cumulative[probe]! > r) hi = probe;
      else {
        lo = probe + 1;
        break;
      }
    }
  } else {
    lo = guess + 1;
    hi = size;
    for (let step = 1; ; step *= 2) {
      const probe = guess + step;
      if (probe >= size) break;
      if (cumulative[probe]! <= r) lo = probe + 1;
      else {
        hi = probe;
        break;
      }
    }
  }
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The consistent strategy: weighted rendezvous (highest random weight) hashing on the client key,
 * so the same key gets the same answers in the same order while the group does not change, and a
 * member's removal or weight change moves mostly the keys it had.
 *
 * With the group's lookup table (libs/rendezvous `buildRendezvousTable`, built off the request
 * path by consistent-lookups.ts) a pick is O(1): the key's slot gives the first answer, the
 * following slots the next distinct ones (so the second answer is the owner of a neighbouring
 * slot, which is again a weight-proportional draw). Every answer's live weight is checked, so a
 * table built before a node was drained or went DOWN skips it: its keys go to the next slot's
 * owner until the rebuild, without a pause. Without a table — a group smaller than
 * LOOKUP_MIN_MEMBERS, where scoring is as fast, or one whose table is not built yet —
 * `scoreConsistent` scores every member (O(size)) and marks the group as wanting a table.
 *
 * `live` is the pick weight per node index of the routing table the group belongs to
 * (`pickWeightsByNode`): an answer's live weight is read there, by node, rather than from the
 * group's `weights`, by position. Both hold the same numbers, but the node array is one for every
 * group of the table (800 KB at 100 k nodes) and stays in the caches, where a large tier's
 * `weights` cost a cache miss per answer on top of the one for `nodes` (measured in the scale
 * bench: 1.1–1.2× the decisions per CPU-second of its mixed ring, at 10 k and 100 k nodes).
 */
export function pickConsistent(group: CandidateGroup, keyHash: number, k: number, out: Int32Array, live: Float64Array): number {
  const lookup = group.lookup.table;
  if (lookup === null) {
    if (group.size >= LOOKUP_MIN_MEMBERS) group.lookup.wanted = true;
    return scoreConsistent(group, keyHash, k, out);
  }
  const limit = Math.min(k, MAX_ANSWERS, out.length, group.pickableCount);
  const members = group.nodes;
  const high = group.lookup.high;
  const size = lookup.length;
  let slot = rendezvousTableSlot(keyHash, size);
  let n = 0;
  for (let step = 0; n < limit && step < size; step++) {
    // rendezvousTableOwner inline: bit 16 from the plane of a 65,537–131,072-member tier.
    const pos = high === null ? lookup[slot]! : lookup[slot]! | (((high[slot >>> 3]! >>> (slot & 7)) & 1) << 16);
    if (++slot === size) slot = 0;
    // A node is a member of a group once, so distinct nodes are distinct positions.
    const node = members[pos]!;
    if (!(live[node]! > 0) || isPicked(out, n, node)) continue;
    out[n++] = node;
  }
  // A member of positive weight the table has no slot for (it was 0 when the table was built, or
  // its share rounds to nothing) can still be needed to give k distinct answers.
  for (let pos = 0; n < limit && pos < group.size; pos++) {
    const node = members[pos]!;
    if (live[node]! > 0 && !isPicked(out, n, node)) out[n++] = node;
  }
  return n;
}

function isPicked(out: Int32Array, n: number, node: number): boolean {
  for (let j = 0; j < n; j++) if (out[j] === node) return true;
  return false;
}

/**
 * Weighted rendezvous scored member by member: what a group without a lookup table answers (the
 * same properties, a different draw, so a key's edge may change once when the table arrives).
 *
 * Same result as libs/rendezvous `topK(keyHash, hashes, weights, k)` — same draw (`mix32`), same
 * score (`weightedScore`: -w / ln u, u = (draw + 0.5) / 2^32), same order and tie-break, and
 * pick.spec.ts checks they agree on thousands of keys —
 * but pruned: once k candidates are held, a member can only enter if its score beats the k-th,
 * and since score ≤ -maxWeight / ln u, that needs u > exp(-maxWeight / kth). The 32-bit draw is
 * compared with that bound first, and the logarithm is computed only for the few members above it
 * (O(k log n) expected), which makes a 2,000-node tier about 10× cheaper than scoring every member.
 */
export function scoreConsistent(group: CandidateGroup, keyHash: number, k: number, out: Int32Array): number {
  const limit = Math.min(k, MAX_ANSWERS, out.length);
  const hashes = group.hashes;
  const weights = group.weights;
  const maxWeight = group.maxWeight;
  const size = group.size;
  // In a small group the bound costs an exp per insertion and saves few logs: not worth it.
  const prune = size > PRUNE_MIN_SIZE;
  let n = 0;
  let floor = 0; // draws below this cannot enter the current top k
  for (let i = 0; i < size; i++) {
    const w = weights[i]!;
    if (!(w > 0)) continue;
    const draw = mix32(keyHash, hashes[i]!);
    if (draw < floor) continue;
    // weightedScore(keyHash, hash, w) of libs/rendezvous, computed from the draw already in hand:
    // one hash instead of two, and no fractional double returned from a call (V8 boxes those).
    const s = -w / Math.log((draw + 0.5) / TWO_POW_32);
    if (n < limit) n++;
    else if (s <= scores[n - 1]!) continue;
    // Insertion into the sorted prefix; ties keep the lower position first, as topK does.
    let j = n - 1;
    while (j > 0 && scores[j - 1]! < s) {
      scores[j] = scores[j - 1]!;
      out[j] = out[j - 1]!;
      j--;
    }
    scores[j] = s;
    out[j] = i;
    // u = (draw + 0.5) / 2^32 must exceed exp(-maxWeight / kth); 2 draws of margin absorb the
    // rounding of exp and log, so the bound never drops a member topK would keep.
    if (prune && n === limit) floor = Math.floor(Math.exp(-maxWeight / scores[n - 1]!) * TWO_POW_32) - 2;
  }
  for (let i = 0; i < n; i++) out[i] = group.nodes[out[i]!]!;
  return n;
}

function isChosen(pos: number, count: number): boolean {
  for (let j = 0; j < count; j++) if (chosenPos[j] === pos) return true;
  return false;
}

function firstFree(group: CandidateGroup, count: number): number {
  for (let p = 0; p < group.size; p++) if (group.weights[p]! > 0 && !isChosen(p, count)) return p;
  return -1; // unreachable: count < pickableCount
}

/**
 * Records position `pos`, its interval [start, start + width) of the line, as chosen, keeping the
 * intervals sorted by start. Reads the interval from `cumulative` itself rather than taking it as
 * two arguments, which V8 would box into heap numbers (see `searchArgs`).
 */
function insertChosen(count: number, pos: number, cumulative: Float64Array): void {
  const start = pos > 0 ? cumulative[pos - 1]! : 0;
  const width = cumulative[pos]! - start;
  let j = count;
  while (j > 0 && chosenStart[j - 1]! > start) {
    chosenStart[j] = chosenStart[j - 1]!;
    chosenWidth[j] = chosenWidth[j - 1]!;
    chosenPos[j] = chosenPos[j - 1]!;
    j--;
  }
  chosenStart[j] = start;
  chosenWidth[j] = width;
  chosenPos[j] = pos;
}
