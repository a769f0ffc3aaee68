import { createSeededUniform } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { createAnswerCache, type ClientKey } from './answer-cache.js';

const v4 = (text: string, prefixLength = 32): ClientKey => ({ family: 1, address: Uint8Array.from(text.split('.').map(Number)), prefixLength });

describe('answer cache', () => {
  it('answers every client inside the decided scope, and no client outside it or revealing fewer bits', () => {
    const t = 0;
    const cache = createAnswerCache<string>({ now: () => t });
    cache.set('music.demo.example', 1, v4('1.0.8.7'), 21, 60, 5, 'gd-ct');
    expect(cache.get('music.demo.example', 1, v4('1.0.15.200'))?.entry.value).toBe('gd-ct');
    expect(cache.get('music.demo.example', 1, v4('1.0.8.0', 24))?.fresh).toBe(true);
    expect(cache.get('music.demo.example', 1, v4('1.0.16.1'))).toBeUndefined();
    expect(cache.get('music.demo.example', 1, v4('1.0.0.0', 16))).toBeUndefined();
    expect(cache.get('music.demo.example', 28, v4('1.0.8.7'))).toBeUndefined();
    expect(cache.get('video.demo.example', 1, v4('1.0.8.7'))).toBeUndefined();
  });

  it('counts TTL down, then serves stale only within the staleness bound', () => {
    let t = 0;
    const cache = createAnswerCache<string>({ now: () => t, staleMs: 5000 });
    cache.set('a.example', 1, v4('10.0.0.1'), 8, 30, 1, 'x');
    t = 12_500;
    expect(cache.get('a.example', 1, v4('10.1.2.3'))).toMatchObject({ fresh: true, ttlLeftS: 17 });
    t = 29_500;
    expect(cache.get('a.example', 1, v4('10.1.2.3'))).toMatchObject({ fresh: false });
    t = 34_900;
    expect(cache.get('a.example', 1, v4('10.1.2.3'))?.fresh).toBe(false);
    t = 35_100;
    expect(cache.get('a.example', 1, v4('10.1.2.3'))).toBeUndefined();
  });

  it('takes entries of an older config version for stale at once', () => {
    const cache = createAnswerCache<string>({ now: () => 0 });
    cache.set('a.example', 1, v4('10.0.0.1'), 8, 30, 7, 'x');
    cache.setConfigVersion(8);
    expect(cache.get('a.example', 1, v4('10.0.0.1'))).toMatchObject({ fresh: false });
    cache.set('a.example', 1, v4('10.0.0.1'), 8, 30, 8, 'y');
    expect(cache.get('a.example', 1, v4('10.0.0.1'))).toMatchObject({ fresh: true, entry: { value: 'y' } });
  });

  it('stores a scope longer than the client revealed at the client prefix; is bounded; 0 entries is off', () => {
    const cache = createAnswerCache<string>({ now: () => 0, maxEntries: 2 });
    cache.set('a.example', 1, v4('10.0.0.0', 16), 24, 30, 1, 'wide');
    expect(cache.get('a.example', 1, v4('10.0.200.0', 24))?.entry.value).toBe('wide');
    cache.set('b.example', 1, v4('10.0.0.1'), 8, 30, 1, 'b');
    cache.set('c.example', 1, v4('10.0.0.1'), 8, 30, 1, 'c');
    expect(cache.size).toBe(2);
    expect(cache.get('a.example', 1, v4('10.0.200.0', 24))).toBeUndefined();
    const off = createAnswerCache<string>({ maxEntries: 0 });
    off.set('a.example', 1, v4('10.0.0.1'), 8, 30, 1, 'x');
    expect(off.get('a.example', 1, v4('10.0.0.1'))).toBeUndefined();
  });

  it('keeps IPv6 subnets apart by their bits', () => {
    const cache = createAnswerCache<string>({ now: () => 0 });
    const a = new Uint8Array(16);
    a[0] = 0x24;
    a[1] = 0x0e;
    cache.set('a.example', 28, { family: 2, address: a, prefixLength: 56 }, 20, 30, 1, 'v6');
    const b = Uint8Array.from(a);
    b[2] = 0x0f; // inside the /20
    expect(cache.get('a.example', 28, { family: 2, address: b, prefixLength: 56 })?.entry.value).toBe('v6');
    b[2] = 0x10; // outside
    expect(cache.get('a.example', 28, { family: 2, address: b, prefixLength: 56 })).toBeUndefined();
  });

  it('drops the oldest-stored entry first; storing a key again makes it the newest', () => {
    const cache = createAnswerCache<string>({ now: () => 0, maxEntries: 3 });
    for (const name of ['a', 'b', 'c']) cache.set(`${name}.example`, 1, v4('10.0.0.1'), 24, 30, 1, name);
    cache.set('a.example', 1, v4('10.0.0.9'), 24, 30, 1, 'a again');
    cache.set('d.example', 1, v4('10.0.0.1'), 24, 30, 1, 'd');
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd'].map((n) => cache.get(`${n}.example`, 1, v4('10.0.0.1'))?.entry.value)).toEqual(['a again', undefined, 'c', 'd']);
    // Many replacements of one key keep one entry (the replaced ones are not counted, nor kept).
    for (let i = 0; i < 10_000; i++) cache.set('e.example', 1, v4('10.1.0.1'), 24, 30, 1, `e${i}`);
    expect(cache.size).toBe(3);
    expect(cache.get('e.example', 1, v4('10.1.0.7'))?.entry.value).toBe('e9999');
    expect(cache.get('d.example', 1, v4('10.0.0.1'))?.entry.value).toBe('d');
  });

  it.each([
    { setShare: 0.4, scopes: [8, 12, 16, 20, 24, 32, 40, 56, 64] },
    // Few stores and IPv4 scopes of 24 bits or less: repeat lookups go through the remembered /24s.
    { setShare: 0.03, scopes: [8, 12, 16, 20, 22, 24] },
  ])('answers as a plain map of (name, type, subnet) strings does, over 20 000 random operations ($setShare stores)', ({ setShare, scopes }) => {
    // The reference: the same rules with every subnet spelled out as text and found by trying each
    // stored length, no buckets, no number keys, eviction by Map insertion order.
    const reference = (maxEntries: number) => {
      const entries = new Map<string, { value: string; scope: number }>();
      const text = (c: ClientKey, bits: number): string => {
        const bitsOf = [...c.address].map((b) => b.toString(2).padStart(8, '0')).join('');
        return `${c.family}:${bitsOf.slice(0, bits)}`;
      };
      const lengths = new Map<string, Set<number>>();
      return {
        set(name: string, qtype: number, c: ClientKey, scope: number, value: string) {
          const bits = Math.min(scope, c.prefixLength);
          const base = `${name}|${qtype}|${c.family}`;
          lengths.set(base, (lengths.get(base) ?? new Set()).add(bits));
          const key = `${base}|${text(c, bits)}`;
          entries.delete(key);
          entries.set(key, { value, scope: bits });
          while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
        },
        get(name: string, qtype: number, c: ClientKey): string | undefined {
          const base = `${name}|${qtype}|${c.family}`;
          for (const bits of [...(lengths.get(base) ?? [])].sort((a, b) => b - a)) {
            if (bits > c.prefixLength) continue;
            const e = entries.get(`${base}|${text(c, bits)}`);
            if (e) return e.value;
          }
          return undefined;
        },
      };
    };
    const random = createSeededUniform(7);
    const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const client = (): ClientKey => {
      if (random() < 0.7) {
        // A few /16s, so that subnets collide at every length.
        const address = Uint8Array.from([pick([10, 11, 12, 13, 14, 15]), pick([0, 1, 255]), Math.floor(random() * 4) * 64 + Math.floor(random() * 3), Math.floor(random() * 256)]);
        return { family: 1, address, prefixLength: pick([32, 24, 20, 16]) };
      }
      const address = new Uint8Array(16);
      address[0] = 0x24;
      address[1] = pick([0x0e, 0x0f]);
      address[2] = Math.floor(random() * 3) * 16;
      address[6] = Math.floor(random() * 256);
      return { family: 2, address, prefixLength: pick([128, 56, 48]) };
    };
    const cache = createAnswerCache<string>({ now: () => 0, maxEntries: 500 });
    const model = reference(500);
    let hits = 0;
    let misses = 0;
    for (let i = 0; i < 20_000; i++) {
      const name = pick(['a.example', 'b.example']);
      const qtype = pick([1, 28]);
      const c = client();
      if (random() < setShare) {
        const scope = pick(scopes);
        cache.set(name, qtype, c, scope, 30, 1, `v${i}`);
        model.set(name, qtype, c, scope, `v${i}`);
      } else {
        const expected = model.get(name, qtype, c);
        expect(cache.get(name, qtype, c)?.entry.value, `operation ${i}`).toBe(expected);
        if (expected !== undefined) hits++;
        else misses++;
      }
    }
    expect(cache.size).toBe(setShare > 0.1 ? 500 : cache.size);
    // The comparison saw both outcomes often.
    expect(hits).toBeGreaterThan(1000);
    expect(misses).toBeGreaterThan(100);
  });

  it('a remembered /24 lookup gives way to an entry stored later, a dropped or long-expired entry, and /32 entries', () => {
    let t = 0;
    const cache = createAnswerCache<string>({ now: () => t, staleMs: 5000, maxEntries: 3 });
    cache.set('a.example', 1, v4('10.1.2.3'), 16, 60, 1, 'wide');
    cache.set('a.example', 1, v4('10.1.2.3'), 8, 600, 1, 'widest');
    expect(cache.get('a.example', 1, v4('10.1.2.200', 24))?.entry.value).toBe('wide');
    expect(cache.get('a.example', 1, v4('10.1.2.9'))?.entry.value).toBe('wide'); // through the /24
    // A longer entry stored afterwards wins at once.
    cache.set('a.example', 1, v4('10.1.2.0', 24), 20, 60, 1, 'narrow');
    expect(cache.get('a.example', 1, v4('10.1.2.9'))?.entry.value).toBe('narrow');
    expect(cache.get('a.example', 1, v4('10.1.2.10'))?.entry.value).toBe('narrow');
    // Long expired (past TTL and staleness): the next length down answers.
    t = 66_000;
    expect(cache.get('a.example', 1, v4('10.1.2.9'))).toMatchObject({ fresh: true, entry: { value: 'widest' } });
    // Dropped (evicted) while remembered: not answered any more.
    cache.set('b.example', 1, v4('10.1.2.3'), 8, 600, 1, 'b');
    cache.set('c.example', 1, v4('10.1.2.3'), 8, 600, 1, 'c');
    cache.set('d.example', 1, v4('10.1.2.3'), 8, 600, 1, 'd');
    expect(cache.get('a.example', 1, v4('10.1.2.9'))).toBeUndefined();
    // With a /32 entry (a client without ECS) in the bucket, each /32 finds its own.
    const c2 = createAnswerCache<string>({ now: () => 0 });
    c2.set('a.example', 1, v4('10.1.2.3'), 16, 60, 1, 'wide');
    c2.set('a.example', 1, v4('10.1.2.4'), 32, 60, 1, 'mine');
    expect(c2.get('a.example', 1, v4('10.1.2.3'))?.entry.value).toBe('wide');
    expect(c2.get('a.example', 1, v4('10.1.2.4'))?.entry.value).toBe('mine');
    expect(c2.get('a.example', 1, v4('10.1.2.3'))?.entry.value).toBe('wide');
  });

  it('ttlLeftS: a kept hit holds until a longer entry that could hold its client is stored for its name and type, it is dropped or replaced, expires or the config moves on', () => {
    let t = 0;
    const cache = createAnswerCache<string>({ now: () => t });
    const client = v4('1.0.8.7');
    cache.set('a.example', 1, v4('1.0.0.0'), 16, 60, 1, 'wide');
    const hit = () => cache.get('a.example', 1, client)!;
    const kept = hit();
    const left = (h: { entry: Parameters<typeof cache.ttlLeftS>[0]; stamp: number }) => cache.ttlLeftS(h.entry, h.stamp, client);
    expect(left(kept)).toBe(60);
    // Shorter or same-length entries elsewhere, other types and other names: the lookup would
    // find the same entry, so the kept hit holds (with its TTL counted down).
    cache.set('a.example', 1, v4('2.0.0.0'), 8, 60, 1, 'shorter');
    cache.set('a.example', 1, v4('1.1.0.0'), 16, 60, 1, 'same length, other key');
    cache.set('a.example', 28, v4('1.0.8.0'), 24, 60, 1, 'AAAA');
    // A longer entry in another /8 cannot hold the client.
    cache.set('a.example', 1, v4('9.9.9.0'), 24, 60, 1, 'longer, other /8');
    t = 10_500;
    expect(left(kept)).toBe(49);
    // A longer entry in the client's /8, even one that does not hold it: the next lookup must look again.
    cache.set('a.example', 1, v4('1.200.9.0'), 24, 60, 1, 'longer, same /8');
    expect(left(kept)).toBe(-1);
    const again = hit();
    expect(again.entry.value).toBe('wide');
    expect(left(again)).toBe(49);
    // And one shorter than /8 but longer than the entry found could hold any client.
    const wider = createAnswerCache<string>({ now: () => t });
    wider.set('a.example', 1, v4('1.0.0.0'), 4, 60, 1, '/4');
    const w = wider.get('a.example', 1, client)!;
    expect(wider.ttlLeftS(w.entry, w.stamp, client)).toBe(60);
    wider.set('a.example', 1, v4('100.0.0.0'), 6, 60, 1, '/6 elsewhere');
    expect(wider.ttlLeftS(w.entry, w.stamp, client)).toBe(-1);
    // Replaced by a store of the same subnet.
    cache.set('a.example', 1, v4('1.0.0.0'), 16, 60, 1, 'wide 2');
    expect(left(again)).toBe(-1);
    const third = hit();
    expect(third.entry.value).toBe('wide 2');
    // Less than a second left, then a newer config version.
    t = 10_500 + 59_100;
    expect(left(third)).toBe(-1);
    t = 10_500;
    cache.setConfigVersion(2);
    expect(left(third)).toBe(-1);
    // Dropped to make room (one entry at most here), and emptied by clear().
    const fresh = createAnswerCache<string>({ now: () => t, maxEntries: 1 });
    fresh.set('b.example', 1, client, 24, 60, 1, 'x');
    const h = fresh.get('b.example', 1, client)!;
    fresh.set('c.example', 1, client, 24, 60, 1, 'y');
    expect(fresh.ttlLeftS(h.entry, h.stamp, client)).toBe(-1);
    const h2 = fresh.get('c.example', 1, client)!;
    expect(fresh.ttlLeftS(h2.entry, h2.stamp, client)).toBe(60);
    fresh.clear();
    expect(fresh.ttlLeftS(h2.entry, h2.stamp, client)).toBe(-1);
  });
});
