import { describe, expect, it } from 'vitest';
import { countryRule, ispRule, regionCountry, regionRule } from './location-codes.js';

describe('countryRule', () => {
  it('accepts CN, US, DE, JP', () => {
    for (const code of ['CN', 'US', 'DE', 'JP']) expect(countryRule.check(code)).toEqual({ ok: true, value: code });
  });

  it('refuses XX, a name, lower case (with the fix) and non-strings', () => {
    expect(countryRule.check('XX')).toEqual({ ok: false, problem: 'must be an assigned ISO 3166-1 alpha-2 code, got "XX"' });
    expect(countryRule.check('China')).toEqual({ ok: false, problem: 'must be an ISO 3166-1 alpha-2 code such as "CN", got "China"' });
    expect(countryRule.check('cn')).toEqual({ ok: false, problem: 'must be upper case, got "cn"; did you mean "CN"?' });
    expect(countryRule.check('xx')).toEqual({ ok: false, problem: 'must be an assigned ISO 3166-1 alpha-2 code, got "xx"' });
    expect(countryRule.check('CHN')).toEqual({ ok: false, problem: 'must be an ISO 3166-1 alpha-2 code such as "CN", got "CHN"' });
    expect(countryRule.check(86)).toEqual({ ok: false, problem: 'must be an ISO 3166-1 alpha-2 code such as "CN", got 86' });
  });
});

describe('regionRule', () => {
  it('accepts ISO 3166-2 codes with 1 to 3 alphanumerics, and "" for none', () => {
    for (const code of ['CN-GD', 'US-CA', 'GB-ENG', 'FR-75C', 'JP-13', 'DE-BY', 'CN-1', '']) expect(regionRule.check(code)).toEqual({ ok: true, value: code });
  });

  it('refuses other shapes, lower case (with the fix) and unknown country parts', () => {
    expect(regionRule.check('Guangdong')).toEqual({ ok: false, problem: 'must be an ISO 3166-2 code such as "CN-GD", got "Guangdong"' });
    expect(regionRule.check('CN-GDXX')).toEqual({ ok: false, problem: 'must be an ISO 3166-2 code such as "CN-GD", got "CN-GDXX"' });
    expect(regionRule.check('CN-')).toEqual({ ok: false, problem: 'must be an ISO 3166-2 code such as "CN-GD", got "CN-"' });
    expect(regionRule.check('CNGD')).toEqual({ ok: false, problem: 'must be an ISO 3166-2 code such as "CN-GD", got "CNGD"' });
    expect(regionRule.check('cn-gd')).toEqual({ ok: false, problem: 'must be upper case, got "cn-gd"; did you mean "CN-GD"?' });
    expect(regionRule.check('XX-GD')).toEqual({ ok: false, problem: 'must start with an assigned ISO 3166-1 alpha-2 code, got "XX-GD"' });
    expect(regionRule.check(44)).toEqual({ ok: false, problem: 'must be an ISO 3166-2 code such as "CN-GD", got 44' });
  });

  it('gives the country part of a region', () => {
    expect(regionCountry('CN-GD')).toBe('CN');
    expect(regionCountry('GB-ENG')).toBe('GB');
  });
});

describe('ispRule', () => {
  it('accepts short lower-case codes and ""', () => {
    for (const code of ['ct', 'cu', 'cm', 'crtc', 'cernet', 'isp_2', 'a-b', 'a'.repeat(16), '']) expect(ispRule.check(code)).toEqual({ ok: true, value: code });
  });

  it('refuses names, upper case, leading digits and codes over 16 characters', () => {
    for (const code of ['China Telecom', 'CT', '1ct', '_ct', 'a'.repeat(17), '电信']) {
      expect(ispRule.check(code)).toEqual({
        ok: false,
        problem: `must be a short lower-case code matching [a-z][a-z0-9_-]{0,15} such as "ct", got ${JSON.stringify(code)}`,
      });
    }
  });
});
