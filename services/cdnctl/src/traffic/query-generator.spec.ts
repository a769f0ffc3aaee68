import {
  createIpv4RangeIndexBuilder,
  createLocationTable,
  createRangeDatabase,
  defaultDatabasePath,
  loadGeoIpDatabase,
  parseIpv4,
  type GeoIpDatabase,
} from '@cdn-sched/geoip';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAddressStrata } from './address-strata.js';
import { createQueryGenerator, DEFAULT_DOMAINS } from './query-generator.js';
import { parseQueryLog, formatQueryLine } from './query-log.js';
import { createRandom } from './random.js';

/** A small database: a few CN ISPs, two countries abroad, gaps and an unaligned range. */
function syntheticDatabase(): GeoIpDatabase {
  const locations = createLocationTable();
  const builder = createIpv4RangeIndexBuilder();
  const add = (from: string, to: string, country: string, region: string, isp: string): void => {
    const problem = builder.add(parseIpv4(from), parseIpv4(to), locations.intern(country, region, isp));
    if (problem) throw new Error(problem);
  };
  add('1.0.0.0', '1.255.255.255', 'CN', 'CN-GD', 'ct');
  add('2.0.0.0', '2.127.255.255', 'CN', 'CN-BJ', 'cu');
  add('3.0.0.0', '3.0.255.255', 'CN', 'CN-SH', 'cm');
  add('4.0.0.5', '4.0.1.200', 'CN', 'CN-ZJ', 'crtc');
  add('8.0.0.0', '8.255.255.255', 'US', '', '');
  add('9.0.0.7', '9.0.77.9', 'JP', '', '');
  return createRangeDatabase({ source: 'synthetic', format: 'ip2region-text', index: builder.build(), locations, sourceRangeCount: 6 });
}

function groupOf(db: GeoIpDatabase, ip: string): string {
  const loc = db.lookup(ip);
  if (loc.country === '') return 'unknown';
  if (loc.country !== 'CN') return 'overseas';
  return ['ct', 'cu', 'cm'].includes(loc.isp) ? loc.isp : 'other';
}

describe('createRandom', () => {
  it('gives the same sequence for the same seed, whether number or text, and another for another seed', () => {
    const seq = (seed: number | string): number[] => {
      const r = createRandom(seed);
      return Array.from({ length: 5 }, () => r.next());
    };
    expect(seq(7)).toEqual(seq('7'));
    expect(seq(7)).not.toEqual(seq(8));
    for (const v of seq('x')) expect(v >= 0 && v < 1).toBe(true);
  });

  it('is uniform enough for sampling: int(10) hits every value about equally', () => {
    const r = createRandom(3);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) counts[r.int(10)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });
});

describe('buildAddressStrata', () => {
  it('splits the located space by home ISP and abroad, with exact address counts', () => {
    const strata = buildAddressStrata(syntheticDatabase());
    expect(strata.home.get('ct')!.addressCount).toBe(2 ** 24);
    expect(strata.home.get('cu')!.addressCount).toBe(2 ** 23);
    expect(strata.home.get('cm')!.addressCount).toBe(2 ** 16);
    // 4.0.0.5–4.0.1.200 is not a CIDR block: it is walked as several.
    expect(strata.home.get('other')!.addressCount).toBe(parseIpv4('4.0.1.200') - parseIpv4('4.0.0.5') + 1);
    expect(strata.home.get('other')!.blockCount).toBeGreaterThan(2);
    expect(strata.overseas.addressCount).toBe(2 ** 24 + (parseIpv4('9.0.77.9') - parseIpv4('9.0.0.7') + 1));
  });

  it('picks addresses only inside the group, over the whole group', () => {
    const db = syntheticDatabase();
    const other = buildAddressStrata(db).home.get('other')!;
    const r = createRandom(1);
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < 5000; i++) {
      const ip = other.pick(r);
      expect(db.location(db.lookupV4(ip)).isp).toBe('crtc');
      min = Math.min(min, ip);
      max = Math.max(max, ip);
    }
    // 452 addresses, 5000 draws: both ends are reached.
    expect(min).toBe(parseIpv4('4.0.0.5'));
    expect(max).toBe(parseIpv4('4.0.1.200'));
  });
});

describe('createQueryGenerator (synthetic database)', () => {
  const db = syntheticDatabase();
  const strata = buildAddressStrata(db);

  it('is deterministic for a seed and differs between seeds', () => {
    const a = createQueryGenerator({ strata, seed: 42 }).take(200);
    const b = createQueryGenerator({ strata, seed: 42 }).take(200);
    const c = createQueryGenerator({ strata, seed: 43 }).take(200);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('draws groups in the configured shares, and only located addresses', () => {
    const gen = createQueryGenerator({ strata, seed: 5, overseasShare: 0.2, ispShares: { ct: 0.5, cu: 0.3, cm: 0.1 } });
    const n = 20_000;
    const counts = new Map<string, number>();
    for (const q of gen.take(n)) counts.set(groupOf(db, q.clientIp), (counts.get(groupOf(db, q.clientIp)) ?? 0) + 1);
    expect(counts.get('unknown')).toBeUndefined();
    const share = (g: string): number => (counts.get(g) ?? 0) / n;
    // Expected 0.2, 0.4, 0.24, 0.08, 0.08; 4 standard deviations at n = 20 000 is under 0.012.
    expect(Math.abs(share('overseas') - 0.2)).toBeLessThan(0.015);
    expect(Math.abs(share('ct') - 0.4)).toBeLessThan(0.015);
    expect(Math.abs(share('cu') - 0.24)).toBeLessThan(0.015);
    expect(Math.abs(share('cm') - 0.08)).toBeLessThan(0.01);
    expect(Math.abs(share('other') - 0.08)).toBeLessThan(0.01);
    expect([...gen.shares.values()].reduce((a, b) => a + b)).toBeCloseTo(1, 9);
  });

  it('uses every domain, the demo domains by default', () => {
    const seen = new Set(createQueryGenerator({ strata }).take(100).map((q) => q.domain));
    expect([...seen].sort()).toEqual([...DEFAULT_DOMAINS].sort());
    const three = new Set(createQueryGenerator({ strata, domains: ['a.example', 'b.example', 'c.example'] }).take(300).map((q) => q.domain));
    expect(three.size).toBe(3);
  });

  it('sends everything home with share 0 and everything abroad with share 1', () => {
    expect(createQueryGenerator({ strata, overseasShare: 0 }).take(500).every((q) => groupOf(db, q.clientIp) !== 'overseas')).toBe(true);
    expect(createQueryGenerator({ strata, overseasShare: 1 }).take(500).every((q) => groupOf(db, q.clientIp) === 'overseas')).toBe(true);
  });

  it('spreads the share of an ISP without addresses over the others', () => {
    const gen = createQueryGenerator({ database: db, overseasShare: 0, ispShares: { ct: 0.5, cu: 0.25, xx: 0.25 } });
    expect(gen.shares.has('xx')).toBe(false);
    // ct : cu : other = 0.5 : 0.25 : 0 once xx (0.25) is gone and other gets 1 − 1 = 0.
    expect(gen.shares.get('ct')).toBeCloseTo(2 / 3, 9);
    expect(gen.shares.get('cu')).toBeCloseTo(1 / 3, 9);
  });

  it('refuses shares out of range', () => {
    expect(() => createQueryGenerator({ strata, overseasShare: 1.5 })).toThrow(RangeError);
    expect(() => createQueryGenerator({ strata, ispShares: { ct: 0.8, cu: 0.5 } })).toThrow(/sum to 1.3/);
    expect(() => createQueryGenerator({ strata, domains: [] })).toThrow(/domain/);
  });
});

describe('createQueryGenerator (shipped ip2region data)', () => {
  let db: GeoIpDatabase;
  beforeAll(async () => {
    db = await loadGeoIpDatabase(defaultDatabasePath());
  });

  it('writes lines that parse back, from Chinese provinces and the big ISPs, with about 10 % from abroad', () => {
    const n = 20_000;
    const queries = createQueryGenerator({ database: db, seed: 'real' }).take(n);
    const reread = parseQueryLog(queries.map(formatQueryLine).join('\n'));
    expect(reread.errors).toEqual([]);
    expect(reread.queries).toEqual(queries);
    let overseas = 0;
    let bigIsp = 0;
    const regions = new Set<string>();
    for (const q of queries) {
      const loc = db.lookup(q.clientIp);
      expect(loc.country).not.toBe('');
      if (loc.country !== 'CN') overseas++;
      else {
        if (['ct', 'cu', 'cm'].includes(loc.isp)) bigIsp++;
        if (loc.region !== '') regions.add(loc.region);
      }
    }
    expect(overseas / n).toBeGreaterThan(0.09);
    expect(overseas / n).toBeLessThan(0.11);
    // 90 % at home of which 90 % with ct/cu/cm.
    expect(bigIsp / n).toBeGreaterThan(0.79);
    expect(bigIsp / n).toBeLessThan(0.83);
    // Spread over the country, not one range: 31 provinces in the data, nearly all drawn.
    expect(regions.size).toBeGreaterThanOrEqual(28);
  });
});
