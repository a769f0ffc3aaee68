import { Tier } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { LOCATION_TIERS, locationId, locationKey, parseTierName, tierName } from './tiers.js';

const gdTelecom = { country: 'CN', region: 'CN-GD', isp: 'ct' };

describe('tiers', () => {
  it('maps the document names to the proto enum and back', () => {
    const names = ['isp+region', 'region', 'isp+country', 'country', 'any'];
    expect(LOCATION_TIERS.map(tierName)).toEqual(names);
    expect(names.map(parseTierName)).toEqual([Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY]);
    expect(parseTierName('ISP+REGION')).toBeUndefined();
    expect(parseTierName('unspecified')).toBeUndefined();
    expect(tierName(Tier.UNSPECIFIED)).toBe('unspecified');
  });

  it('gives the weight-calculator location keys', () => {
    expect(LOCATION_TIERS.map((t) => locationKey(t, gdTelecom))).toEqual(['CN-GD|ct', 'CN-GD', 'CN|ct', 'CN', '*']);
  });

  it('gives no key to a tier whose codes are unknown', () => {
    const noIsp = { country: 'CN', region: 'CN-GD', isp: '' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, noIsp))).toEqual(['', 'CN-GD', '', 'CN', '*']);
    const countryOnly = { country: 'US', region: '', isp: 'att' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, countryOnly))).toEqual(['', '', 'US|att', 'US', '*']);
    const nothing = { country: '', region: '', isp: '' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, nothing))).toEqual(['', '', '', '', '*']);
    expect(locationKey(Tier.UNSPECIFIED, gdTelecom)).toBe('');
  });

  it('numeric ids are -1 exactly where keys are empty, and one-to-one with keys per tier', () => {
    const stride = 4;
    const keyOfId = new Map<string, string>();
    const idOfKey = new Map<string, number>();
    for (let country = -1; country < 3; country++) {
      for (let region = -1; region < 6; region++) {
        for (let isp = -1; isp < stride; isp++) {
          const loc = {
            country: country < 0 ? '' : `c${country}`,
            region: region < 0 ? '' : `r${region}`,
            isp: isp < 0 ? '' : `i${isp}`,
          };
          for (const tier of LOCATION_TIERS) {
            const id = locationId(tier, country, region, isp, stride);
            const key = locationKey(tier, loc);
            expect(id < 0).toBe(key === '');
            if (id < 0) continue;
            expect(keyOfId.get(`${tier}/${id}`) ?? key).toBe(key);
            expect(idOfKey.get(`${tier}/${key}`) ?? id).toBe(id);
            keyOfId.set(`${tier}/${id}`, key);
            idOfKey.set(`${tier}/${key}`, id);
          }
        }
      }
    }
    expect(keyOfId.size).toBe(idOfKey.size);
    expect(keyOfId.size).toBe(6 * 4 + 6 + 3 * 4 + 3 + 1);
  });
});
