import { Tier } from '@cdn-sched/proto';

/** Tier names as documents write them, in the usual narrow-to-wide order. */
export const TIER_NAMES = ['isp+region', 'region', 'isp+country', 'country', 'any'] as const;

/** One of {@link TIER_NAMES}. */
export type TierName = (typeof TIER_NAMES)[number];

const BY_NAME = new Map<string, Tier>([
  ['isp+region', Tier.ISP_REGION],
  ['region', Tier.REGION],
  ['isp+country', Tier.ISP_COUNTRY],
  ['country', Tier.COUNTRY],
  ['any', Tier.ANY],
]);

/** The tier of a document name, or `undefined` for an unknown name. */
export function parseTierName(name: string): Tier | undefined {
  return BY_NAME.get(name);
}

/** Name → tier, for rules that list the accepted names. */
export const TIERS_BY_NAME: ReadonlyMap<string, Tier> = BY_NAME;

/** The document name of a tier; throws RangeError for TIER_UNSPECIFIED. */
export function tierName(tier: Tier): TierName {
  for (const [name, value] of BY_NAME) if (value === tier) return name as TierName;
  throw new RangeError(`fallback: ${Tier[tier] ?? tier} has no document form`);
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
    const [narrowName, wideName] = [tierName(tier), tierName(wider)];
    problems.push({ index, problem: `"${narrowName}" after "${wideName}" is never tried: every node of "${narrowName}" is also in "${wideName}"` });
  });
  return problems;
}
