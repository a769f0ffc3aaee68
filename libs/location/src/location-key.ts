import { Tier } from '@cdn-sched/proto';

/**
 * The location key of each tier: the one string the weight-calculator's capacity table
 * (`TierCapacity.location`) and the resolver's candidate tables must agree on, so that the resolver
 * finds the capacity of the group a client falls in.
 *
 * | tier        | key          | needs           |
 * |-------------|--------------|-----------------|
 * | ISP_REGION  | "CN-GD\|ct"  | region and isp  |
 * | REGION      | "CN-GD"      | region          |
 * | ISP_COUNTRY | "CN\|ct"     | country and isp |
 * | COUNTRY     | "CN"         | country         |
 * | ANY         | "*"          | —               |
 *
 * A region code (ISO 3166-2) starts with its country, so "CN-GD|ct" is unambiguous.
 */

/** Country, region and ISP codes of a client or a node; the empty string means unknown. */
export interface LocationCodes {
  /** ISO 3166-1 alpha-2, upper case ("CN"). */
  readonly country: string;
  /** ISO 3166-2 ("CN-GD"). */
  readonly region: string;
  /** ISP code ("ct", "cu", "cm", ...). */
  readonly isp: string;
}

/**
 * Location key of `tier` for `location`, or undefined when the tier does not apply because a code
 * it needs is unknown (an empty ISP rules out both ISP tiers; an empty region rules out `isp+region`
 * and `region`). Allocates a string: for table builds and messages, not for the decision path
 * (see {@link locationId}).
 */
export function locationKey(tier: Tier, location: LocationCodes): string | undefined {
  const { country, region, isp } = location;
  switch (tier) {
    case Tier.ISP_REGION:
      return region !== '' && isp !== '' ? `${region}|${isp}` : undefined;
    case Tier.REGION:
      return region !== '' ? region : undefined;
    case Tier.ISP_COUNTRY:
      return country !== '' && isp !== '' ? `${country}|${isp}` : undefined;
    case Tier.COUNTRY:
      return country !== '' ? country : undefined;
    case Tier.ANY:
      return '*';
    default:
      return undefined;
  }
}

/**
 * Numeric twin of {@link locationKey}, for the allocation-free decision path: codes are first
 * interned to small integers (-1 = unknown or never seen on any node), and the pair tiers combine
 * two of them as `first * ispStride + isp`, unique as long as `ispStride` exceeds every ISP id.
 * Returns -1 exactly where `locationKey` has no key. Ids stay far below 2^30, so V8 keeps them as
 * small integers (no boxing).
 */
export function locationId(tier: Tier, countryId: number, regionId: number, ispId: number, ispStride: number): number {
  switch (tier) {
    case Tier.ISP_REGION:
      return regionId >= 0 && ispId >= 0 ? regionId * ispStride + ispId : -1;
    case Tier.REGION:
      return regionId;
    case Tier.ISP_COUNTRY:
      return countryId >= 0 && ispId >= 0 ? countryId * ispStride + ispId : -1;
    case Tier.COUNTRY:
      return countryId;
    case Tier.ANY:
      return 0;
    default:
      return -1;
  }
}
