import { countryCode } from './country-codes.js';
import { ispCode } from '@cdn-sched/location';
import type { GeoLocation } from './location-table.js';
import { provinceCode } from './province-codes.js';

/** Number of `|`-separated fields of an ip2region region string: country|area|province|city|ISP. */
export const IP2REGION_REGION_FIELDS = 5;

/**
 * Hong Kong, Macao and Taiwan: ip2region files them as provinces of 中国; here they get their own
 * ISO 3166-1 codes and no region. Why: MaxMind reports them as countries, so a client lands on the
 * same codes whichever database is loaded; and for routing they are separate networks (a client in
 * Hong Kong should not fall back to mainland "CN" nodes before "HK" ones).
 */
const TERRITORIES: ReadonlyMap<string, string> = new Map([
  ['CN-HK', 'HK'],
  ['CN-MO', 'MO'],
  ['CN-TW', 'TW'],
]);

/**
 * Normalises the fields of an ip2region record to codes.
 *
 * - `country`: ISO 3166-1 alpha-2, or `''` (unknown, continents, private ranges);
 * - `region`: ISO 3166-2 for mainland China only (`CN-GD`), else `''` — the data's provinces of
 *   other countries are not coded;
 * - `isp`: short code, see {@link ispCode}.
 */
export function normalizeIp2RegionLocation(country: string, province: string, isp: string): GeoLocation {
  let countryIso = countryCode(country);
  let region = '';
  if (countryIso === 'CN') {
    region = provinceCode(province);
    const territory = TERRITORIES.get(region);
    if (territory !== undefined) {
      countryIso = territory;
      region = '';
    }
  }
  return { country: countryIso, region, isp: ispCode(isp) };
}

/**
 * Splits an ip2region region string (`中国|0|广东省|深圳市|电信`, as stored in xdb files and
 * returned by `ip2region.js`) and normalises it.
 *
 * @returns the location, or `undefined` when the string does not have exactly five fields.
 */
export function normalizeIp2RegionString(region: string): GeoLocation | undefined {
  const fields = region.split('|');
  if (fields.length !== IP2REGION_REGION_FIELDS) return undefined;
  return normalizeIp2RegionLocation(fields[0]!, fields[2]!, fields[4]!);
}
