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
});
