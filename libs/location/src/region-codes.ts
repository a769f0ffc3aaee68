import { isCountryCode } from './country-codes.js';

// ISO 3166-2: the alpha-2 country code, a hyphen, and up to three alphanumerics ("CN-GD", "US-CA",
// "GB-ENG", "FR-75C").
const SUBDIVISION = /^([A-Z]{2})-([A-Z0-9]{1,3})$/;

/**
 * The country part of a code shaped like an ISO 3166-2 subdivision code, upper case ("CN" for
 * "CN-GD"), or undefined when `code` does not have that shape ("cn-gd", "CN_GD", "").
 */
export function regionCodeCountry(code: string): string | undefined {
  return SUBDIVISION.exec(code)?.[1];
}

/** True for an ISO 3166-2 code ("CN-GD") whose country part is an accepted country code. */
export function isRegionCode(code: string): boolean {
  const country = regionCodeCountry(code);
  return country !== undefined && isCountryCode(country);
}

/** The country part of an ISO 3166-2 code ("CN" for "CN-GD"); the code is assumed valid. */
export function regionCountry(region: string): string {
  return region.slice(0, region.indexOf('-'));
}
