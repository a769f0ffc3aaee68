/**
 * `@cdn-sched/location` — the location model every service shares: the tiers of a fallback chain
 * (names, order, containment), the location key each tier gives a client or a node, and the
 * country, region and ISP codes with the shapes a document accepts and the IP data produces.
 */
export { COUNTRY_CODES, isCountryCode, ISO_ASSIGNED_COUNT, USER_ASSIGNED_COUNTRY_CODES } from './country-codes.js';
export { isIspCode, ISP_CODE_SHAPE, ispCode, ispCodeTable, MAX_ISP_CODE_LENGTH } from './isp-codes.js';
export { locationId, locationKey } from './location-key.js';
export type { LocationCodes } from './location-key.js';
export { isRegionCode, regionCodeCountry, regionCountry } from './region-codes.js';
export {
  documentTierName,
  fallbackOrderProblems,
  isLocationTier,
  LOCATION_TIERS,
  parseTierName,
  tierContains,
  tierName,
  TIER_NAMES,
  TIERS_BY_NAME,
} from './tiers.js';
export type { TierName } from './tiers.js';
