import { isCountryCode } from './country-codes.js';
import { accept, mismatch, reject, stringRule, type Rule } from './field-reader.js';

const ALPHA2 = /^[A-Za-z]{2}$/;
// ISO 3166-2: the alpha-2 country code, a hyphen, and up to three alphanumerics ("CN-GD", "US-CA",
// "GB-ENG", "FR-75C").
const SUBDIVISION = /^([A-Z]{2})-([A-Z0-9]{1,3})$/;
const ISP = /^[a-z][a-z0-9_-]{0,15}$/;

/**
 * ISO 3166-1 alpha-2 country code, upper case. Lower case is refused with the fix spelt out
 * rather than normalised: the stored document stays the one value every reader (etcdctl, jq,
 * grep) sees, and "cn-gd" vs "CN-GD" never has to be reconciled.
 */
const COUNTRY_EXPECTED = 'an ISO 3166-1 alpha-2 code such as "CN"';
export const countryRule: Rule<string> = {
  expected: COUNTRY_EXPECTED,
  check(value) {
    if (typeof value !== 'string' || !ALPHA2.test(value)) return mismatch(COUNTRY_EXPECTED, value);
    if (isCountryCode(value)) return accept(value);
    const upper = value.toUpperCase();
    if (value !== upper && isCountryCode(upper)) return reject(`must be upper case, got "${value}"; did you mean "${upper}"?`);
    return reject(`must be an assigned ISO 3166-1 alpha-2 code, got "${value}"`);
  },
};

/** ISO 3166-2 subdivision code ("CN-GD"), upper case; "" means no region. */
const REGION_EXPECTED = 'an ISO 3166-2 code such as "CN-GD"';
export const regionRule: Rule<string> = {
  expected: REGION_EXPECTED,
  check(value) {
    if (value === '') return accept('');
    if (typeof value !== 'string') return mismatch(REGION_EXPECTED, value);
    const upper = value.toUpperCase();
    const match = SUBDIVISION.exec(upper);
    if (match === null) return mismatch(REGION_EXPECTED, value);
    if (value !== upper) return reject(`must be upper case, got "${value}"; did you mean "${upper}"?`);
    if (!isCountryCode(match[1])) return reject(`must start with an assigned ISO 3166-1 alpha-2 code, got "${value}"`);
    return accept(value);
  },
};

/** The country part of an ISO 3166-2 code ("CN" for "CN-GD"). */
export function regionCountry(region: string): string {
  return region.slice(0, region.indexOf('-'));
}

/** Short ISP code ("ct", "cu", "cm", "crtc", "cernet"); "" means unknown. */
export const ispRule: Rule<string> = stringRule(
  'a short lower-case code matching [a-z][a-z0-9_-]{0,15} such as "ct"',
  (text) => text === '' || ISP.test(text),
);
