import { describe, expect, it } from 'vitest';
import { isRegionCode, regionCodeCountry, regionCountry } from './region-codes.js';

describe('region codes', () => {
  it('accepts ISO 3166-2 codes of accepted countries', () => {
    for (const code of ['CN-GD', 'CN-BJ', 'US-CA', 'GB-ENG', 'FR-75C']) expect(isRegionCode(code), code).toBe(true);
    expect(regionCountry('CN-GD')).toBe('CN');
  });

  it('refuses other shapes, lower case and unassigned countries', () => {
    for (const code of ['', 'CN', 'cn-gd', 'CN_GD', 'CN-GDXX', 'XX-AB', 'China-GD']) expect(isRegionCode(code), code).toBe(false);
    expect(regionCodeCountry('XX-AB')).toBe('XX');
    expect(regionCodeCountry('cn-gd')).toBeUndefined();
  });
});
