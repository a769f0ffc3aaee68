import { Tier } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { locationId, locationKey } from './location-key.js';
import { LOCATION_TIERS } from './tiers.js';

const gdTelecom = { country: 'CN', region: 'CN-GD', isp: 'ct' };

describe('location keys', () => {
  it('gives the keys the weight-calculator\'s capacity table and the resolver share', () => {
    expect(LOCATION_TIERS.map((t) => locationKey(t, gdTelecom))).toEqual(['CN-GD|ct', 'CN-GD', 'CN|ct', 'CN', '*']);
  });

  it('gives no key to a tier whose codes are unknown', () => {
    const noIsp = { country: 'CN', region: 'CN-GD', isp: '' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, noIsp))).toEqual([undefined, 'CN-GD', undefined, 'CN', '*']);
    const countryOnly = { country: 'US', region: '', isp: 'att' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, countryOnly))).toEqual([undefined, undefined, 'US|att', 'US', '*']);
    const nothing = { country: '', region: '', isp: '' };
    expect(LOCATION_TIERS.map((t) => locationKey(t, nothing))).toEqual([undefined, undefined, undefined, undefined, '*']);
    expect(locationKey(Tier.UNSPECIFIED, gdTelecom)).toBeUndefined();
  });

  it('numeric ids are -1 exactly where there is no key, and one-to-one with keys per tier', () => {
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
            expect(id < 0).toBe(key === undefined);
            if (id < 0 || key === undefined) continue;
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

describe('locationKey', () => {
  const gd = { country: 'CN', region: 'CN-GD', isp: 'ct' };

  it('builds one key per tier', () => {
    expect(locationKey(Tier.ISP_REGION, gd)).toBe('CN-GD|ct');
    expect(locationKey(Tier.REGION, gd)).toBe('CN-GD');
    expect(locationKey(Tier.ISP_COUNTRY, gd)).toBe('CN|ct');
    expect(locationKey(Tier.COUNTRY, gd)).toBe('CN');
    expect(locationKey(Tier.ANY, gd)).toBe('*');
    expect(locationKey(Tier.UNSPECIFIED, gd)).toBeUndefined();
  });

  it('has no key for a tier whose field is missing', () => {
    const noRegion = { country: 'CN', region: '', isp: 'ct' };
    expect(locationKey(Tier.ISP_REGION, noRegion)).toBeUndefined();
    expect(locationKey(Tier.REGION, noRegion)).toBeUndefined();
    expect(locationKey(Tier.ISP_COUNTRY, noRegion)).toBe('CN|ct');
    const noIsp = { country: 'CN', region: 'CN-GD', isp: '' };
    expect(locationKey(Tier.ISP_REGION, noIsp)).toBeUndefined();
    expect(locationKey(Tier.ISP_COUNTRY, noIsp)).toBeUndefined();
    expect(locationKey(Tier.REGION, noIsp)).toBe('CN-GD');
  });
});
