import { Tier } from '@cdn-sched/proto';

/**
 * The location tiers of a domain's fallback chain: their SRE-facing names (the `fallback` list of
 * `/cdn/domains/<fqdn>`, docs/architecture.md "Documents"), the proto `Tier` enum, and the location key
 * each tier gives a client or a node.
 *
 * A location is three codes: ISO 3166-1 country ("CN"), ISO 3166-2 region ("CN-GD") and a short ISP
 * code ("ct"); an empty code means unknown. Keys are the ones the weight-calculator uses in
 * `TierCapacity.location`: "CN-GD|ct", "CN-GD", "CN|ct", "CN", "*".
 */

/** Country, region and ISP codes of a client or a node; empty string = unknown. */
export interface ClientLocation {
  /** ISO 3166-1 alpha-2, upper case ("CN"). */
  readonly country: string;
  /** ISO 3166-2 ("CN-GD"). */
  readonly region: string;
  /** Short ISP code ("ct", "cu", "cm", ...). */
  readonly isp: string;
}

/** The five location tiers, most specific first. */
export const LOCATION_TIERS: readonly Tier[] = [
  Tier.ISP_REGION,
  Tier.REGION,
  Tier.ISP_COUNTRY,
  Tier.COUNTRY,
  Tier.ANY,
];

const NAMES: Readonly<Record<Tier, string>> = {
  [Tier.UNSPECIFIED]: 'unspecified',
  [Tier.ISP_REGION]: 'isp+region',
  [Tier.REGION]: 'region',
  [Tier.ISP_COUNTRY]: 'isp+country',
  [Tier.COUNTRY]: 'country',
  [Tier.ANY]: 'any',
};

const BY_NAME: ReadonlyMap<string, Tier> = new Map(LOCATION_TIERS.map((t) => [NAMES[t], t]));

/** The document name of a tier ("isp+region"); "unspecified" for `Tier.UNSPECIFIED`. */
export function tierName(tier: Tier): string {
  return NAMES[tier] ?? 'unspecified';
}

/** The tier a document name stands for, or undefined when the name is not one of the five. */
export function parseTierName(name: string): Tier | undefined {
  return BY_NAME.get(name);
}

/**
 * Location key of `tier` for `location`, or "" when the tier does not apply because a code it needs
 * is unknown (an empty ISP skips both ISP tiers; an empty region skips `isp+region` and `region`).
 * Allocates a string: for table builds and messages, not for the decision path (see `locationId`).
 */
export function locationKey(tier: Tier, location: ClientLocation): string {
  const { country, region, isp } = location;
  switch (tier) {
    case Tier.ISP_REGION:
      return region !== '' && isp !== '' ? `${region}|${isp}` : '';
    case Tier.REGION:
      return region;
    case Tier.ISP_COUNTRY:
      return country !== '' && isp !== '' ? `${country}|${isp}` : '';
    case Tier.COUNTRY:
      return country;
    case Tier.ANY:
      return '*';
    default:
      return '';
  }
}

/**
 * Numeric twin of `locationKey`, for the allocation-free decision path: codes are first interned to
 * small integers (-1 = unknown or never seen on any node), and the pair tiers combine two of them as
 * `first * ispStride + isp`, unique as long as `ispStride` exceeds every ISP id. Returns -1 when the
 * tier does not apply. Ids stay far below 2^30, so V8 keeps them as small integers (no boxing).
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
