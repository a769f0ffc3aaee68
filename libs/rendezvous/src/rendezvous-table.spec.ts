import { describe, expect, it } from 'vitest';
import {
  buildRendezvousTable,
  createRendezvousTableBuilder,
  hashString,
  hashU32,
  rendezvousTableBits,
  rendezvousTableSlot,
} from './index.js';

const ids = (n: number, prefix = 'edge'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Owner id per slot, the table sized for the member count. */
function owners(members: readonly string[], weights: readonly number[], bits = rendezvousTableBits(members.length)): string[] {
  return Array.from(buildRendezvousTable(members.map(hashString), weights, bits), (p) => (p < 0 ? '' : members[p]!));
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
    // M = 8,192 draws; keys hashed onto it add only uniform noise on top.
    const members = ids(40);
    const weights = members.map((_, i) => 1 + (i % 10) * 3);
    const slots = buildRendezvousTable(members.map(hashString), weights);
    expect(slots).toHaveLength(8192);
    const counts = new Array<number>(members.length).fill(0);
    for (const p of slots) counts[p]!++;
    const total = weights.reduce((a, b) => a + b, 0);
    const chi2 = counts.reduce((acc, c, i) => {
      const expected = (slots.length * weights[i]!) / total;
      return acc + (c - expected) ** 2 / expected;
    }, 0);
    // 39 degrees of freedom: the p = 0.001 critical value is 72.05.
    expect(chi2).toBeLessThan(72.05);
    // And keys land on slots uniformly: 200 k /24 keys over 8,192 slots, 63 bins of 130 slots.
    const bits = rendezvousTableBits(members.length);
    const bins = new Array<number>(63).fill(0);
    for (let k = 0; k < 200_000; k++) bins[Math.floor(rendezvousTableSlot(hashU32(k << 8), bits) / 131)]!++;
    const perBin = 200_000 / (8192 / 131);
    const chi2Keys = bins.slice(0, 62).reduce((acc, c) => acc + (c - perBin) ** 2 / perBin, 0);
    // 61 degrees of freedom (the last, partial bin left out): p = 0.001 critical value 100.9.
    expect(chi2Keys).toBeLessThan(100.9);
  });
});
