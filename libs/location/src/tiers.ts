import { Tier } from '@cdn-sched/proto';

/**
 * The location tiers of a domain's fallback chain (docs/architecture.md, "Documents"): their names
 * as documents write them, their order, and which contains which. The location key each tier gives a
 * client or a node is in `location-key.ts`.
 */

/** Tier names as documents write them, in the usual narrow-to-wide order. */
export const TIER_NAMES = ['isp+region', 'region', 'isp+country', 'country', 'any'] as const;

/** One of {@link TIER_NAMES}. */
export type TierName = (typeof TIER_NAMES)[number];

/** The five location tiers, most specific first (the order of {@link TIER_NAMES}). */
export const LOCATION_TIERS: readonly Tier[] = Object.freeze([Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY]);

const BY_NAME = new Map<string, Tier>(TIER_NAMES.map((name, i) => [name, LOCATION_TIERS[i]!]));
const NAME_OF = new Map<Tier, TierName>(TIER_NAMES.map((name, i) => [LOCATION_TIERS[i]!, name]));

/** The tier of a document name, or `undefined` for an unknown name (names are case-sensitive). */
export function parseTierName(name: string): Tier | undefined {
  return BY_NAME.get(name);
}

/** Name → tier, for rules that list the accepted names. */
export const TIERS_BY_NAME: ReadonlyMap<string, Tier> = BY_NAME;

/** True for the five tiers that have a document name (not `Tier.UNSPECIFIED`). */
export function isLocationTier(tier: Tier): boolean {
  return NAME_OF.has(tier);
}

/** The name of a tier for messages, logs and spans ("isp+region"); "unspecified" for a tier without one. */
export function tierName(tier: Tier): TierName | 'unspecified' {
  return NAME_OF.get(tier) ?? 'unspecified';
}

/** The document name of a tier; throws RangeError for a tier without one (TIER_UNSPECIFIED). */
export function documentTierName(tier: Tier): TierName {
  const name = NAME_OF.get(tier);
  if (name === undefined) throw new RangeError(`fallback: ${Tier[tier] ?? tier} has no document form`);
  return name;
}

// What a node must share with the client to be in a tier. A region lies inside one country
// (ISO 3166-2 codes start with the country code), so matching the region implies the country.
const CONSTRAINTS: ReadonlyMap<Tier, ReadonlySet<string>> = new Map([
  [Tier.ISP_REGION, new Set(['isp', 'region', 'country'])],
  [Tier.REGION, new Set(['region', 'country'])],
  [Tier.ISP_COUNTRY, new Set(['isp', 'country'])],
  [Tier.COUNTRY, new Set(['country'])],
  [Tier.ANY, new Set<string>()],
]);

/**
 * True when, for every client, each node of tier `inner` is also in tier `outer`: `outer`
 * constrains a subset of what `inner` constrains. "country" contains "region" and "isp+region";
 * "region" and "isp+country" do not contain each other.
 */
export function tierContains(outer: Tier, inner: Tier): boolean {
  const outerConstraints = CONSTRAINTS.get(outer);
  const innerConstraints = CONSTRAINTS.get(inner);
  if (outerConstraints === undefined || innerConstraints === undefined) return false;
  for (const constraint of outerConstraints) if (!innerConstraints.has(constraint)) return false;
  return true;
}

/**
 * Problems with the order of a fallback chain. Tiers are tried in order until one has a healthy
 * node; a tier listed after one that contains it can never answer (if the wider tier had no
 * healthy node, neither has the narrower), so it is a mistake, usually a reversed list.
 */
export function fallbackOrderProblems(chain: readonly Tier[]): { index: number; problem: string }[] {
  const problems: { index: number; problem: string }[] = [];
  chain.forEach((tier, index) => {
    const wider = chain.slice(0, index).find((earlier) => tierContains(earlier, tier));
    if (wider === undefined) return;
    const [narrowName, wideName] = [documentTierName(tier), documentTierName(wider)];
    problems.push({ index, problem: `"${narrowName}" after "${wideName}" is never tried: every node of "${narrowName}" is also in "${wideName}"` });
  });
  return problems;
}
