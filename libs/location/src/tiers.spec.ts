import { Tier } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { documentTierName, fallbackOrderProblems, isLocationTier, LOCATION_TIERS, parseTierName, tierContains, tierName, TIER_NAMES } from './tiers.js';

describe('fallback tiers', () => {
  it('maps every document name to its tier and back', () => {
    expect(TIER_NAMES).toEqual(['isp+region', 'region', 'isp+country', 'country', 'any']);
    expect(TIER_NAMES.map(parseTierName)).toEqual([Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY]);
    for (const name of TIER_NAMES) expect(documentTierName(parseTierName(name)!)).toBe(name);
    expect(parseTierName('city')).toBeUndefined();
    expect(() => documentTierName(Tier.UNSPECIFIED)).toThrow('fallback: UNSPECIFIED has no document form');
  });

  it('names tiers for messages, "unspecified" included, and lists them narrowest first', () => {
    const names = ['isp+region', 'region', 'isp+country', 'country', 'any'];
    expect(LOCATION_TIERS.map(tierName)).toEqual(names);
    expect(names.map(parseTierName)).toEqual([Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY]);
    expect(parseTierName('ISP+REGION')).toBeUndefined();
    expect(parseTierName('unspecified')).toBeUndefined();
    expect(tierName(Tier.UNSPECIFIED)).toBe('unspecified');
    expect(LOCATION_TIERS.every(isLocationTier)).toBe(true);
    expect(isLocationTier(Tier.UNSPECIFIED)).toBe(false);
  });

  it('knows which tier contains which', () => {
    const contains: [Tier, Tier][] = [
      [Tier.ANY, Tier.COUNTRY],
      [Tier.ANY, Tier.ISP_REGION],
      [Tier.COUNTRY, Tier.REGION],
      [Tier.COUNTRY, Tier.ISP_COUNTRY],
      [Tier.COUNTRY, Tier.ISP_REGION],
      [Tier.REGION, Tier.ISP_REGION],
      [Tier.ISP_COUNTRY, Tier.ISP_REGION],
      [Tier.REGION, Tier.REGION],
    ];
    for (const [outer, inner] of contains) expect(tierContains(outer, inner), `${documentTierName(outer)} ⊇ ${documentTierName(inner)}`).toBe(true);
    const disjoint: [Tier, Tier][] = [
      [Tier.REGION, Tier.ISP_COUNTRY],
      [Tier.ISP_COUNTRY, Tier.REGION],
      [Tier.ISP_REGION, Tier.REGION],
      [Tier.COUNTRY, Tier.ANY],
      [Tier.UNSPECIFIED, Tier.ANY],
    ];
    for (const [outer, inner] of disjoint) expect(tierContains(outer, inner)).toBe(false);
  });

  it('accepts narrow-to-wide chains, including region and isp+country in either order', () => {
    for (const chain of [
      [Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY],
      [Tier.ISP_REGION, Tier.ISP_COUNTRY, Tier.REGION, Tier.COUNTRY, Tier.ANY],
      [Tier.COUNTRY],
      [Tier.ANY],
      [Tier.REGION, Tier.ANY],
    ]) {
      expect(fallbackOrderProblems(chain)).toEqual([]);
    }
  });

  it('reports tiers that can never answer because a wider tier comes first', () => {
    expect(fallbackOrderProblems([Tier.COUNTRY, Tier.REGION, Tier.ANY])).toEqual([
      { index: 1, problem: '"region" after "country" is never tried: every node of "region" is also in "country"' },
    ]);
    expect(fallbackOrderProblems([Tier.ANY, Tier.ISP_REGION, Tier.COUNTRY]).map((p) => p.index)).toEqual([1, 2]);
    expect(fallbackOrderProblems([Tier.ISP_COUNTRY, Tier.ISP_REGION])[0].problem).toBe(
      '"isp+region" after "isp+country" is never tried: every node of "isp+region" is also in "isp+country"',
    );
  });
});
