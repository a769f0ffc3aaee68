import { isCountryCode, isIspCode, isRegionCode } from '@cdn-sched/location';
import { beforeAll, describe, expect, it } from 'vitest';
import { asnIspCode } from './asn-isp-codes.js';
import { countryCodeTable } from './country-codes.js';
import type { GeoIpDatabase } from './geoip-database.js';
import { defaultDatabasePath, loadGeoIpDatabase } from './load-geoip-database.js';

/**
 * The codes the IP data gives a client must be codes a node document accepts (the checks of
 * @cdn-sched/location that libs/documents applies), or a client could sit in a location no node can
 * be placed in: a tier that never matches. Found this way: eight ISP codes of the shipped data
 * (`21vianet`, `hurricane-electric`, …) that the document rule of the time refused, and `CQ`.
 */
describe('codes of the IP data are codes a document accepts', () => {
  let db: GeoIpDatabase;
  beforeAll(async () => {
    db = await loadGeoIpDatabase(defaultDatabasePath());
  }, 120_000);

  it('every location of the shipped database', () => {
    const countries = new Set<string>();
    const regions = new Set<string>();
    const isps = new Set<string>();
    for (let id = 0; id < db.stats().locationCount; id++) {
      const { country, region, isp } = db.location(id);
      countries.add(country);
      regions.add(region);
      isps.add(isp);
    }
    const refused = (codes: Set<string>, accepts: (code: string) => boolean): string[] => [...codes].filter((c) => c !== '' && !accepts(c)).sort();
    expect(refused(countries, isCountryCode)).toEqual([]);
    expect(refused(regions, isRegionCode)).toEqual([]);
    expect(refused(isps, isIspCode)).toEqual([]);
    // The data is the real one: the check ran over a fair share of the world.
    expect(countries.size).toBeGreaterThan(200);
    expect(regions.size).toBeGreaterThanOrEqual(31);
    expect(isps.size).toBeGreaterThan(150);
  });

  it('every country name and every ASN the loaders map', () => {
    expect([...new Set(countryCodeTable().values())].filter((c) => !isCountryCode(c))).toEqual([]);
    const asnCodes = new Set<string>();
    for (let asn = 0; asn < 70_000; asn++) asnCodes.add(asnIspCode(asn));
    asnCodes.delete('');
    expect(asnCodes.size).toBeGreaterThan(10);
    expect([...asnCodes].filter((c) => !isIspCode(c))).toEqual([]);
  });
});
