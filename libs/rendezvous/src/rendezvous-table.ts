import { fmix32 } from './hash.js';

/**
 * Weighted rendezvous hashing precomputed into a lookup table: O(1) consistent picks with the
 * minimal disruption of rendezvous hashing.
 *
 * The key space is cut into M slots (a key's slot is its 32-bit hash scaled onto 0..M-1).
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
 * Slots per member: a member's share then strays from its weight's by about 1 / sqrt(160) ≈ 8 %
 * (one standard deviation), which keeps the keys moved by one member's removal within 1.2 / N for
 * all but about 1 % of members (rendezvous-table.spec.ts measures it at 100, 1,000 and 10,000
 * members; at 128 a slot, 1.5–2 % of members went over). The slot count is exactly members × 160,
 * not rounded up to a power of two (which made it 1.0–2.0× that): at 100 k nodes the lookup
 * tables are most of a resolver's memory.
 */
export const TABLE_SLOTS_PER_MEMBER = 160;
/** Fewest slots (4,096): the 15-member tiers that are most of a fleet get ~270 slots each. */
export const TABLE_MIN_SLOTS = 4096;
/** Most slots: 2^30 (8 M members), far beyond any fleet; keeps every slot index a small integer. */
const TABLE_MAX_SLOTS = 2 ** 30;
/** Coverage constant c: the share of slots left to the fallback rule is e^-c. */
const COVERAGE = 5;
const SEED = 0x68e31da4;
const TWO_POW_32 = 4294967296;

/**
 * A finished table: slot → member position. A Uint16Array up to 131,072 members, else an
 * Int32Array: a 1,000-member tier's table is 320 KB instead of 640 KB. Between 65,537 and 131,072
 * members the Uint16Array holds the low 16 bits of each position and a bit plane
 * ({@link RendezvousTableHigh}) holds bit 16: 2.125 bytes a slot instead of 4, which is what keeps
 * the `any` and country tiers of a 100 k-node fleet (16 M and 14 M slots) at 34 and 30 MB. Read a
 * position with {@link rendezvousTableOwner} (or the same two loads inline on a hot path). Not
 * Uint8Array for the smallest tiers as well: a third array kind made the pick's table read
 * polymorphic, which cost more picks per second (decide bench: 35–50 % at 1,000–10,000 members)
 * than the bytes saved were worth; the plane keeps the read monomorphic (a null check and, only
 * for those large tiers, one byte load). An Int32Array of -1 when no member has a weight > 0.
 */
export type RendezvousTable = Uint16Array | Int32Array;

/**
 * Bit 16 of every slot's position, one bit a slot (slot s is bit `s & 7` of byte `s >>> 3`), for
 * tables of 65,537 to {@link TABLE_HIGH_PLANE_MAX_MEMBERS} members; null for every other table.
 */
export type RendezvousTableHigh = Uint8Array | null;

/** Most members of a table kept as a Uint16Array and a bit plane; larger tiers get an Int32Array. */
export const TABLE_HIGH_PLANE_MAX_MEMBERS = 131072;

/** Bytes of a finished table of `size` slots over `members` members. */
export function rendezvousTableBytes(members: number, size: number): number {
  if (members <= 65536) return size * 2;
  if (members <= TABLE_HIGH_PLANE_MAX_MEMBERS) return size * 2 + Math.ceil(size / 8);
  return size * 4;
}

/** Member position owning `slot` of a finished table (-1 in an empty one). */
export function rendezvousTableOwner(slots: RendezvousTable, high: RendezvousTableHigh, slot: number): number {
  const low = slots[slot]!;
  return high === null ? low : low | (((high[slot >>> 3]! >>> (slot & 7)) & 1) << 16);
}

/** Slot count of a table for a tier of `members` members (counting those of weight 0). */
export function rendezvousTableSize(members: number): number {
  return Math.min(TABLE_MAX_SLOTS, Math.max(TABLE_MIN_SLOTS, members * TABLE_SLOTS_PER_MEMBER));
}

/**
 * Slot of a 32-bit key hash (signed or unsigned) in a table of `size` slots: the hash scaled onto
 * 0..size-1 (Lemire's multiply-shift range reduction, in double arithmetic). IEEE 754 rounding is
 * the same on every machine, so every replica maps a key to the same slot; the product may round
 * up to exactly 2^32 × size for the largest hashes, hence the clamp.
 */
export function rendezvousTableSlot(keyHash: number, size: number): number {
  const slot = Math.floor(((keyHash >>> 0) * size) / TWO_POW_32);
  return slot < size ? slot : size - 1;
}

/**
 * A table being built, a slice at a time so that a large one (a 10 k-member tier has 1.3 M slots)
 * can be spread over several turns of the event loop. When `done`, `slots[i]` is the member
 * position (index into the arrays the builder was given) owning slot i, and `empty` says whether
 * no member had a weight > 0 (then `slots` is an Int32Array of -1). Before that, `slots` is not
 * filled in yet.
 */
export interface RendezvousTableBuilder {
  readonly size: number;
  readonly slots: RendezvousTable;
  /** Bit 16 of each slot's position, for 65,537 to 131,072 members (see {@link RendezvousTable}). */
  readonly high: RendezvousTableHigh;
  /**
   * Does about `work` units more (a unit is one member, or 1,024 slots of the final pass); returns
   * true when the table is complete.
   */
  step(work: number): boolean;
  readonly done: boolean;
  readonly empty: boolean;
}

/** Starts a table over members given by their hashes (e.g. `hashString(id)`) and weights (≤ 0, NaN: none). */
export function createRendezvousTableBuilder(
  memberHashes: ArrayLike<number>,
  weights: ArrayLike<number>,
  size: number = rendezvousTableSize(memberHashes.length),
  scratch?: RendezvousScratch,
): RendezvousTableBuilder {
  return new TableBuilder(memberHashes, weights, size, scratch);
}

/**
 * Working arrays that builds made one after another can share: 12 bytes a slot (a 10 k-member
 * tier's 1.3 M slots are 16 MB) that would otherwise be allocated and dropped by every build.
 * Large typed arrays live outside V8's heap and count as external memory, which brings on full
 * garbage collections; a process that rebuilds tables all the time (a resolver during a slow
 * start) keeps one of these instead. A build borrows it when it starts and returns it clean (every
 * mark back to 0, written by the final pass) when it completes; a build started while it is lent
 * out, or one abandoned before completing, uses arrays of its own, so sharing never changes a
 * table.
 */
export class RendezvousScratch {
  /** @internal */ marks = new Int32Array(0);
  /** @internal */ best = new Float64Array(0);
  /** @internal */ lent = false;

  /** Slots the arrays hold now (they grow to the largest table built). */
  get capacity(): number {
    return this.marks.length;
  }
}

const FINAL_PASS_SLOTS_PER_UNIT = 1024;

// A class, not a closure: one shared optimised `step` for every table instead of one per build.
class TableBuilder implements RendezvousTableBuilder {
  slots: RendezvousTable;
  high: RendezvousTableHigh;
  done = false;
  empty = false;
  // Scratch while building: position + 1 of the slot's owner so far (0 = no member reached the
  // slot yet: a fresh Int32Array needs no fill), and its scaled arrival time (valid only where
  // marks[i] !== 0). Both dropped once the final pass has written `slots`.
  private marks: Int32Array | null;
  private best: Float64Array | null;
  // The scratch the arrays above are borrowed from, returned when the build completes.
  private scratch: RendezvousScratch | null = null;
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
    readonly size: number,
    scratch?: RendezvousScratch,
  ) {
    const count = memberHashes.length;
    this.slots = count <= TABLE_HIGH_PLANE_MAX_MEMBERS ? new Uint16Array(size) : new Int32Array(size);
    this.high = count > 65536 && count <= TABLE_HIGH_PLANE_MAX_MEMBERS ? new Uint8Array(Math.ceil(size / 8)) : null;
    if (scratch !== undefined && !scratch.lent) {
      if (scratch.marks.length < size) {
        scratch.marks = new Int32Array(size);
        scratch.best = new Float64Array(size);
      }
      scratch.lent = true;
      this.scratch = scratch;
      // Views of exactly `size` slots: claim() and the final pass take the table size from them.
      this.marks = scratch.marks.subarray(0, size);
      this.best = scratch.best.subarray(0, size);
    } else {
      this.marks = new Int32Array(size);
      this.best = new Float64Array(size);
    }
    this.hashes = memberHashes;
    this.weights = weights;
    let total = 0;
    for (let p = 0; p < count; p++) total += usable(weights[p]!);
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
        if (w > 0) claim(this.best!, this.marks!, this.hashes[p]! >>> 0, w, (w * COVERAGE) / this.total, p + 1);
      } else {
        budget -= this.finalPass(budget * FINAL_PASS_SLOTS_PER_UNIT) / FINAL_PASS_SLOTS_PER_UNIT;
      }
    }
    return this.done;
  }

  /**
   * Writes each slot's owner position into `slots`, giving slots no member reached before T the
   * owner of the nearest reached slot before them (cyclically, so the pass starts at a reached
   * slot). Returns the slots visited.
   */
  private finalPass(maxSlots: number): number {
    const marks = this.marks!;
    const slots = this.slots;
    const m = marks.length;
    if (this.pass === -1) {
      this.best = null;
      let start = 0;
      while (start < m && marks[start] === 0) start++;
      if (start === m) {
        // No member (or none of weight > 0): an empty table.
        this.slots = new Int32Array(m).fill(-1);
        this.high = null;
        this.finish();
        this.empty = true;
        return m;
      }
      this.start = start;
      this.owner = marks[start]! - 1;
      this.pass = 0;
    }
    const from = this.pass;
    const end = Math.min(m, from + maxSlots);
    const high = this.high;
    let owner = this.owner;
    let s = (this.start + from) % m;
    for (let i = from; i < end; i++) {
      const v = marks[s]!;
      if (v !== 0) {
        owner = v - 1;
        // Leaves the marks as a fresh array has them, for the next build that borrows them.
        marks[s] = 0;
      }
      // A Uint16Array keeps the low 16 bits of what is stored; the plane (fresh, all 0) bit 16.
      slots[s] = owner;
      if (high !== null && owner > 0xffff) high[s >>> 3] |= 1 << (s & 7);
      if (++s === m) s = 0;
    }
    this.owner = owner;
    this.pass = end;
    if (end === m) this.finish();
    return Math.max(1, end - from);
  }

  /** Complete: drops the working arrays and returns the scratch they came from (all marks 0 again). */
  private finish(): void {
    this.marks = null;
    this.best = null;
    if (this.scratch !== null) this.scratch.lent = false;
    this.scratch = null;
    this.done = true;
  }
}

/**
 * Walks one member's Poisson process over (slot, unit time) — rate M, so the gaps are Exp(M) — up
 * to unit time `limit` = w × T, and takes every slot where its scaled time t / w is the earliest
 * so far. `mark` is what it writes into a slot it takes (position + 1).
 */
function claim(best: Float64Array, marks: Int32Array, hash: number, w: number, limit: number, mark: number): void {
  const rate = best.length;
  let state = fmix32((hash ^ SEED) >>> 0) | 0;
  let t = 0;
  for (;;) {
    state = (state + 0x6d2b79f5) | 0;
    t -= Math.log((mulberry(state) + 0.5) / TWO_POW_32) / rate;
    if (t >= limit) return;
    state = (state + 0x6d2b79f5) | 0;
    const slot = rendezvousTableSlot(mulberry(state), rate);
    const scaled = t / w;
    if (marks[slot] === 0 || scaled < best[slot]!) {
      best[slot] = scaled;
      marks[slot] = mark;
    }
  }
}

/**
 * Builds a whole table at once (see `createRendezvousTableBuilder`) and returns slot → position:
 * the builder's own array, or, for a table with a bit plane, the positions read out of it into an
 * Int32Array (tests and tools; the resolver keeps the compact form).
 */
export function buildRendezvousTable(
  memberHashes: ArrayLike<number>,
  weights: ArrayLike<number>,
  size: number = rendezvousTableSize(memberHashes.length),
): RendezvousTable {
  const builder = createRendezvousTableBuilder(memberHashes, weights, size);
  builder.step(Number.MAX_SAFE_INTEGER);
  const { slots, high } = builder;
  if (high === null) return slots;
  const positions = new Int32Array(slots.length);
  for (let s = 0; s < slots.length; s++) positions[s] = rendezvousTableOwner(slots, high, s);
  return positions;
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
