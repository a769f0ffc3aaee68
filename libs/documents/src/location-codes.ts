import { isCountryCode, isIspCode, ISP_CODE_SHAPE, regionCodeCountry } from '@cdn-sched/location';
import { accept, mismatch, reject, stringRule, type Rule } from './field-reader.js';

// The codes themselves (which countries exist, the shapes of region and ISP codes) belong to
// @cdn-sched/location; these rules only word the problems for a person editing a document.
const ALPHA2 = /^[A-Za-z]{2}$/;

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
    const country = regionCodeCountry(upper);
    if (country === undefined) return mismatch(REGION_EXPECTED, value);
    if (value !== upper) return reject(`must be upper case, got "${value}"; did you mean "${upper}"?`);
    if (!isCountryCode(country)) return reject(`must start with an assigned ISO 3166-1 alpha-2 code, got "${value}"`);
    return accept(value);
  },
};

/**
 * ISP code ("ct", "cu", "cm", "crtc", "cernet"); "" means unknown. Only the shape the IP data
 * produces is accepted: a node whose ISP no client can have would never be in an ISP tier.
 */
export const ispRule: Rule<string> = stringRule(ISP_CODE_SHAPE, (text) => text === '' || isIspCode(text));
