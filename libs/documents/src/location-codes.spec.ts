import { describe, expect, it } from 'vitest';
import { ISP_CODE_SHAPE } from '@cdn-sched/location';
import { countryRule, ispRule, regionRule } from './location-codes.js';

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
});

describe('ispRule', () => {
  it('accepts the codes the IP data produces and ""', () => {
    for (const code of ['ct', 'cu', 'cm', 'crtc', 'cernet', '21vianet', 'a-b', 'hurricane-electric', 'a'.repeat(63), '']) expect(ispRule.check(code)).toEqual({ ok: true, value: code });
  });

  it('refuses names, upper case, underscores, stray hyphens and codes over 63 characters', () => {
    for (const code of ['China Telecom', 'CT', 'isp_2', '_ct', '-ct', '电信']) {
      expect(ispRule.check(code)).toEqual({ ok: false, problem: `must be ${ISP_CODE_SHAPE}, got ${JSON.stringify(code)}` });
    }
    expect(ispRule.check('a'.repeat(64))).toEqual({ ok: false, problem: expect.stringContaining(`must be ${ISP_CODE_SHAPE}, got "aaaa`) });
  });
});
