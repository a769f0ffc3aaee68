import { describe, expect, it } from 'vitest';
import {
  buildRendezvousTable,
  createRendezvousTableBuilder,
  hashString,
  hashU32,
  rendezvousTableBytes,
  rendezvousTableOwner,
  rendezvousTableSize,
  rendezvousTableSlot,
  RendezvousScratch,
} from './index.js';

const ids = (n: number, prefix = 'edge'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Owner id per slot, the table sized for the member count. */
function owners(members: readonly string[], weights: readonly number[], size = rendezvousTableSize(members.length)): string[] {
  return Array.from(buildRendezvousTable(members.map(hashString), weights, size), (p) => (p < 0 ? '' : members[p]!));
}

describe('rendezvous table', () => {
  it('owns every slot, and does not depend on the order the members are listed in', () => {
    const members = ids(15);
    const a = owners(members, members.map(() => 1));
    expect(a).toHaveLength(4096);
    expect(a).not.toContain('');
    const reversed = [...members].reverse();
    expect(owners(reversed, reversed.map(() => 1))).toEqual(a);
  });

  it('built a few members at a time equals built at once', () => {
    const hashes = ids(300).map(hashString);
    const weights = hashes.map((_, i) => 1 + (i % 7));
    const whole = buildRendezvousTable(hashes, weights);
    const builder = createRendezvousTableBuilder(hashes, weights);
    let steps = 0;
    while (!builder.step(7)) steps++;
    expect(steps).toBeGreaterThanOrEqual(42);
    expect(builder.done).toBe(true);
    expect(builder.slots).toEqual(whole);
  });

  it('built on shared scratch arrays equals built on its own, for one build after another of any size', () => {
    const scratch = new RendezvousScratch();
    const build = (n: number, salt: number, withScratch: boolean) => {
      const hashes = ids(n, `s${salt}`).map(hashString);
      const weights = hashes.map((_, i) => (i % 5 === 0 ? 0 : 1 + ((i * salt) % 9)));
      const b = createRendezvousTableBuilder(hashes, weights, undefined, withScratch ? scratch : undefined);
      while (!b.step(5));
      return b.slots;
    };
    // Large, then smaller (views of the grown arrays), then larger again, then an empty table:
    // a mark the final pass failed to clear would hand a slot to a member of the earlier build.
    for (const [n, salt] of [[2000, 3], [40, 5], [300, 7], [5000, 2], [1, 0]] as const) {
      expect(build(n, salt, true)).toEqual(build(n, salt, false));
    }
    expect(scratch.capacity).toBe(rendezvousTableSize(5000));
  });

  it('lends its scratch to one build at a time: a second build alongside uses its own arrays', () => {
    const scratch = new RendezvousScratch();
    const hashes = ids(500).map(hashString);
    const weights = hashes.map((_, i) => 1 + (i % 3));
    const a = createRendezvousTableBuilder(hashes, weights, undefined, scratch);
    const b = createRendezvousTableBuilder(hashes, [...weights].reverse(), undefined, scratch);
    // Interleaved steps: had they shared the marks, each would see the other's claims.
    while (!(a.done && b.done)) {
      a.step(3);
      b.step(3);
    }
    expect(a.slots).toEqual(buildRendezvousTable(hashes, weights));
    expect(b.slots).toEqual(buildRendezvousTable(hashes, [...weights].reverse()));
  });

  it('gives no slot to a member of weight 0, and none at all when every weight is 0', () => {
    const hashes = ids(20).map(hashString);
    const slots = buildRendezvousTable(hashes, hashes.map((_, i) => (i % 4 === 0 ? 0 : 1)));
    for (const p of slots) expect(p % 4).not.toBe(0);
    expect(buildRendezvousTable(hashes, hashes.map(() => Number.NaN)).every((p) => p === -1)).toBe(true);
    expect(buildRendezvousTable([], [])).toHaveLength(4096);
  });

  for (const n of [15, 100, 1000, 10_000]) {
    it(`removing one of ${n} moves that member's keys (≤ 1.2/N for ${n < 100 ? 'every' : '99 % of'} member(s)) and almost nothing else`, () => {
      const members = ids(n);
      const weights = members.map(() => 1);
      const before = owners(members, weights);
      // Removal (weight 0 keeps the table size, as a drained or DOWN node does) moves the removed
      // member's slots: checked on three members ...
      for (const gone of [0, Math.floor(n / 2), n - 1]) {
        const w = [...weights];
        w[gone] = 0;
        const after = owners(members, w);
        let movedOffOthers = 0;
        for (let i = 0; i < after.length; i++) if (after[i] !== before[i] && before[i] !== members[gone]) movedOffOthers++;
        // The slots no member reached before T (about e^-5 of them, see rendezvous-table.ts) follow a
        // neighbour and the horizon T moves with Σw: a handful of other keys move too.
        expect(movedOffOthers / after.length).toBeLessThan(0.004);
        expect(after).not.toContain(members[gone]);
      }
      // ... so the keys one removal moves are that member's share, measured here for every member.
      const share = new Map<string, number>();
      for (const id of before) share.set(id, (share.get(id) ?? 0) + 1 / before.length);
      const over = [...share.values()].filter((s) => s > 1.2 / n).length;
      expect(share.size).toBe(n);
      expect(over / n).toBeLessThanOrEqual(n < 100 ? 0 : 0.01);
      // Four 2^21-slot builds at 10 k members: a few seconds alone, over a minute on a loaded machine.
    }, 600_000);
  }

  it('a member whose weight drops to 0 and comes back gets exactly its keys back', () => {
    const members = ids(50);
    const weights = members.map(() => 10);
    const before = owners(members, weights);
    weights[7] = 0;
    expect(owners(members, weights)).not.toContain('edge-7');
    weights[7] = 10;
    expect(owners(members, weights)).toEqual(before);
  });

  it('a weight change moves keys to or from that member, and almost no others', () => {
    const members = ids(40);
    const weights = members.map(() => 10);
    const before = owners(members, weights);
    weights[3] = 25;
    const after = owners(members, weights);
    let others = 0;
    let gained = 0;
    for (let i = 0; i < after.length; i++) {
      if (after[i] === before[i]) continue;
      if (after[i] === 'edge-3') gained++;
      else others++;
    }
    // edge-3 goes from 1/40 to 25/415 of the keys: it gains about 3.5 % of them.
    expect(gained / after.length).toBeGreaterThan(0.025);
    expect(others / after.length).toBeLessThan(0.004);
  });

  it('slot shares follow the weights (chi-square over the slots)', () => {
    // Each slot's owner is an independent weighted draw, so the table is a multinomial sample of
    // M = 6,400 draws (40 × 160); keys hashed onto it add only uniform noise on top.
    const members = ids(40);
    const weights = members.map((_, i) => 1 + (i % 10) * 3);
    const slots = buildRendezvousTable(members.map(hashString), weights);
    expect(slots).toHaveLength(6400);
    const counts = new Array<number>(members.length).fill(0);
    for (const p of slots) counts[p]!++;
    const total = weights.reduce((a, b) => a + b, 0);
    const chi2 = counts.reduce((acc, c, i) => {
      const expected = (slots.length * weights[i]!) / total;
      return acc + (c - expected) ** 2 / expected;
    }, 0);
    // 39 degrees of freedom: the p = 0.001 critical value is 72.05.
    expect(chi2).toBeLessThan(72.05);
    // And keys land on slots uniformly: 200 k /24 keys over 6,400 slots, 40 bins of 160 slots.
    const size = rendezvousTableSize(members.length);
    const bins = new Array<number>(40).fill(0);
    for (let k = 0; k < 200_000; k++) bins[Math.floor(rendezvousTableSlot(hashU32(k << 8), size) / 160)]!++;
    const perBin = 200_000 / 40;
    const chi2Keys = bins.reduce((acc, c) => acc + (c - perBin) ** 2 / perBin, 0);
    // 39 degrees of freedom: p = 0.001 critical value 72.05.
    expect(chi2Keys).toBeLessThan(72.05);
  });

  it('maps every 32-bit key into the table, signed or unsigned, and sizes it by member count', () => {
    for (const size of [4096, 6400, 14_880_000, 2 ** 30]) {
      expect(rendezvousTableSlot(0, size)).toBe(0);
      expect(rendezvousTableSlot(-1, size)).toBe(size - 1);
      expect(rendezvousTableSlot(0xffffffff, size)).toBe(size - 1);
      expect(rendezvousTableSlot(0x80000000 | 0, size)).toBe(size / 2);
    }
    expect(rendezvousTableSize(1)).toBe(4096);
    expect(rendezvousTableSize(1000)).toBe(160_000);
    // The narrowest array that holds every position.
    expect(buildRendezvousTable(ids(15).map(hashString), new Array<number>(15).fill(1))).toBeInstanceOf(Uint16Array);
    expect(buildRendezvousTable([1, 2], [1, 1], 4096)).toHaveLength(4096);
  });

  it('keeps a 65,537–131,072-member table as 16-bit slots and a bit plane that reads back every position', () => {
    // 70,000 members over 280,000 slots (4 a member, enough to reach positions past 65,535 often).
    const members = ids(70_000);
    const hashes = members.map(hashString);
    const weights = members.map((_, i) => 1 + (i % 3));
    const size = 280_000;
    const builder = createRendezvousTableBuilder(hashes, weights, size);
    builder.step(Number.MAX_SAFE_INTEGER);
    expect(builder.slots).toBeInstanceOf(Uint16Array);
    expect(builder.high).toBeInstanceOf(Uint8Array);
    expect(builder.high).toHaveLength(35_000);
    expect(rendezvousTableBytes(70_000, size)).toBe(595_000);
    const read = Array.from({ length: size }, (_, s) => rendezvousTableOwner(builder.slots, builder.high, s));
    expect(read.filter((p) => p > 0xffff).length).toBeGreaterThan(10_000);
    expect(read.reduce((a, b) => Math.max(a, b), 0)).toBe(69_999);
    // The owners do not depend on the listing order, so listed in reverse every position changes
    // (p → 69,999 − p, crossing bit 16 both ways) and every slot must still name the same member.
    const reversed = [...members].reverse();
    const back = buildRendezvousTable(reversed.map(hashString), reversed.map((_, i) => weights[members.length - 1 - i]!), size);
    expect(back).toBeInstanceOf(Int32Array);
    for (let s = 0; s < size; s += 1) {
      if (reversed[back[s]!] !== members[read[s]!]) expect.fail(`slot ${s}: ${reversed[back[s]!]} vs ${members[read[s]!]}`);
    }
  });
});
