import { fmix32 } from './hash.js';

/**
 * Weighted rendezvous hashing precomputed into a lookup table: O(1) consistent picks with the
 * minimal disruption of rendezvous hashing.
 *
 * The key space is cut into M = 2^bits slots (a key's slot is the top `bits` of its 32-bit hash).
 * Each slot is owned by the member of highest weighted-rendezvous score for that slot, i.e. the one
 * whose exponential "arrival time" E(slot, member) / weight is earliest (-w / ln u is the same
 * order as E / w with E = -ln u ~ Exp(1); Schindelhauer & Schomaker, "Weighted distributed hash
 * tables", 2005). So:
 * - a member's share of slots follows its weight (the slot count is a sum of independent draws:
 *   relative spread about 1 / sqrt(M × share));
 * - removing a member, or setting its weight to 0, moves the slots it owned; a weight change moves
 *   slots between that member and others; either also moves the few slots that no member reached
 *   before the horizon T (below), a fraction of a percent.
 *
 * Building it by scoring every (slot, member) pair would cost M × N. Instead each member draws,
 * from a generator seeded by its own hash, the points of a unit-rate Poisson process over
 * (slot, time) in time order: the first point in a slot is that slot's E, and only the points
 * earlier than w × T matter, where T = c / Σw covers all but e^-c of the slots. The build costs
 * about c × M draws whatever N is. A slot no member reached before T (e^-5 ≈ 0.7 % of them) takes
 * the owner of the nearest reached slot before it, a deterministic rule that keeps shares
 * proportional on average and, like everything above, depends only on the member hashes and
 * weights, never on the order the members are listed in: every resolver replica builds the same
 * table from the same documents.
 *
 * Why not Maglev (Eisenbud et al., NSDI 2016), the better-known O(1) table: its fill order couples
 * members, so removing one of N moved 1.6/N (15 members, 64 slots each) to 6.7/N (1,000 members)
 * of the keys here, against a budget of 1.2/N, and only tables of 1,024 slots per member brought it
 * near 1.1–3/N. Exact shares are what Maglev gives in exchange; this table gives exact stability.
 */

/**
 * Slots per member, before rounding M up to a power of two (so 128–256 per member): a member's
 * share then strays from its weight's by about 1 / sqrt(128..256) = 6–9 % (one standard
 * deviation), which keeps the keys moved by one member's removal within 1.2 / N for all but a
 * fraction of a percent of members (rendezvous-table.spec.ts measures it).
 */
export const TABLE_SLOTS_PER_MEMBER = 128;
/** Fewest slots (4,096): the 15-member tiers that are most of a fleet get ~270 slots each. */
export const TABLE_MIN_BITS = 12;
/** Coverage constant c: the share of slots left to the fallback rule is e^-c. */
const COVERAGE = 5;
const SEED = 0x68e31da4;
const TWO_POW_32 = 4294967296;

/** log2 of the slot count for a tier of `members` members (counting those of weight 0). */
export function rendezvousTableBits(members: number): number {
  const want = Math.max(1, members) * TABLE_SLOTS_PER_MEMBER;
  return Math.min(30, Math.max(TABLE_MIN_BITS, Math.ceil(Math.log2(want))));
}

/** Slot of a 32-bit key hash (signed or unsigned) in a table of 2^bits slots. */
export function rendezvousTableSlot(keyHash: number, bits: number): number {
  return (keyHash >>> 0) >>> (32 - bits);
}

/**
 * A table being built, a slice at a time so that a large one (a 10 k-member tier has 2 M slots)
 * can be spread over several turns of the event loop. When `done`, `slots[i]` is the member
 * position (index into the arrays the builder was given) owning slot i; -1 everywhere when no
 * member has a weight > 0. Before that, `slots` is scratch.
 */
export interface RendezvousTableBuilder {
  readonly bits: number;
  readonly slots: Int32Array;
  /**
   * Does about `work` units more (a unit is one member, or 1,024 slots of the final pass); returns
   * true when the table is complete.
   */
  step(work: number): boolean;
  readonly done: boolean;
}

/** Starts a table over members given by their hashes (e.g. `hashString(id)`) and weights (≤ 0, NaN: none). */
export function createRendezvousTableBuilder(
  memberHashes: ArrayLike<number>,
  weights: ArrayLike<number>,
  bits: number = rendezvousTableBits(memberHashes.length),
): RendezvousTableBuilder {
  return new TableBuilder(memberHashes, weights, bits);
}

const FINAL_PASS_SLOTS_PER_UNIT = 1024;

// A class, not a closure: one shared optimised `step` for every table instead of one per build.
class TableBuilder implements RendezvousTableBuilder {
  // position + 1 while building (0 = no member reached the slot yet: a fresh Int32Array needs no
  // fill, which matters at 8 MB), position after the final pass.
  readonly slots: Int32Array;
  done = false;
  // Scaled arrival time of the slot's owner; valid only where slots[i] !== 0.
  private best: Float64Array | null;
  private readonly hashes: ArrayLike<number>;
  private readonly weights: ArrayLike<number>;
  private readonly total: number;
  private cursor = 0;
  // Final pass: next slot to fix, the first reached slot (where the cyclic pass starts), owner.
  private pass = -1;
  private start = 0;
  private owner = 0;

  constructor(
    memberHashes: ArrayLike<number>,
    weights: ArrayLike<number>,
    readonly bits: number,
  ) {
    const m = 2 ** bits;
    this.slots = new Int32Array(m);
    this.best = new Float64Array(m);
    this.hashes = memberHashes;
    this.weights = weights;
    let total = 0;
    for (let p = 0; p < memberHashes.length; p++) total += usable(weights[p]!);
    this.total = total;
  }

  step(work: number): boolean {
    let budget = work;
    const count = this.hashes.length;
    while (!this.done && budget > 0) {
      if (this.cursor < count) {
        const p = this.cursor++;
        budget--;
        const w = usable(this.weights[p]!);
        if (w > 0) claim(this.best!, this.slots, this.bits, this.hashes[p]! >>> 0, w, (w * COVERAGE) / this.total, p + 1);
      } else {
        budget -= this.finalPass(budget * FINAL_PASS_SLOTS_PER_UNIT) / FINAL_PASS_SLOTS_PER_UNIT;
      }
    }
    return this.done;
  }

  /**
   * Turns position + 1 into position, and gives slots no member reached before T the owner of the
   * nearest reached slot before them (cyclically, so the pass starts at a reached slot). Returns
   * the slots visited.
   */
  private finalPass(maxSlots: number): number {
    const slots = this.slots;
    const m = slots.length;
    if (this.pass === -1) {
      this.best = null;
      let start = 0;
      while (start < m && slots[start] === 0) start++;
      if (start === m) {
        // No member (or none of weight > 0): an empty table.
        slots.fill(-1);
        this.done = true;
        return m;
      }
      this.start = start;
      this.owner = slots[start]! - 1;
      this.pass = 0;
    }
    const from = this.pass;
    const end = Math.min(m, from + maxSlots);
    let owner = this.owner;
    for (let i = from; i < end; i++) {
      const s = (this.start + i) & (m - 1);
      const v = slots[s]!;
      if (v === 0) slots[s] = owner;
      else slots[s] = owner = v - 1;
    }
    this.owner = owner;
    this.pass = end;
    if (end === m) this.done = true;
    return Math.max(1, end - from);
  }
}

/**
 * Walks one member's Poisson process over (slot, unit time) — rate M, so the gaps are Exp(M) — up
 * to unit time `limit` = w × T, and takes every slot where its scaled time t / w is the earliest
 * so far. `mark` is what it writes into a slot it takes (position + 1).
 */
function claim(best: Float64Array, slots: Int32Array, bits: number, hash: number, w: number, limit: number, mark: number): void {
  const shift = 32 - bits;
  const rate = best.length;
  let state = fmix32((hash ^ SEED) >>> 0) | 0;
  let t = 0;
  for (;;) {
    state = (state + 0x6d2b79f5) | 0;
    t -= Math.log((mulberry(state) + 0.5) / TWO_POW_32) / rate;
    if (t >= limit) return;
    state = (state + 0x6d2b79f5) | 0;
    const slot = mulberry(state) >>> shift;
    const scaled = t / w;
    if (slots[slot] === 0 || scaled < best[slot]!) {
      best[slot] = scaled;
      slots[slot] = mark;
    }
  }
}

/** Builds a whole table at once (see `createRendezvousTableBuilder`). */
export function buildRendezvousTable(
  memberHashes: ArrayLike<number>,
  weights: ArrayLike<number>,
  bits: number = rendezvousTableBits(memberHashes.length),
): Int32Array {
  const builder = createRendezvousTableBuilder(memberHashes, weights, bits);
  builder.step(Number.MAX_SAFE_INTEGER);
  return builder.slots;
}

function usable(w: number): number {
  return w > 0 && Number.isFinite(w) ? w : 0;
}

/** mulberry32's output function over a state advanced by the caller: a well-mixed 32-bit draw. */
function mulberry(s: number): number {
  let t = Math.imul(s ^ (s >>> 15), 1 | s);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (t ^ (t >>> 14)) >>> 0;
}
