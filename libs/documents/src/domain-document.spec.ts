import { create, equals } from '@bufbuild/protobuf';
import { AllDownPolicy, DomainSchema, Strategy, Tier } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { documentOfDomain, parseDomainDocument, type DomainDocument } from './domain-document.js';

const KEY = '/cdn/domains/img.example.com';
const GOOD: DomainDocument = {
  domain: 'img.example.com',
  pool: 'default',
  answers: 2,
  ttl: 30,
  strategy: 'consistent',
  fallback: ['isp+region', 'region', 'isp+country', 'country', 'any'],
  allDown: 'error',
};

function problemsWith(changes: Record<string, unknown>, key = KEY): string[] {
  const document: Record<string, unknown> = { ...GOOD, ...changes };
  for (const [field, value] of Object.entries(changes)) if (value === undefined) delete document[field];
  const result = parseDomainDocument(key, JSON.stringify(document));
  return result.ok ? [] : result.problems;
}

describe('parseDomainDocument: a good document', () => {
  it('becomes a Domain message with every field mapped', () => {
    const result = parseDomainDocument(KEY, new TextEncoder().encode(JSON.stringify(GOOD)));
    expect(result.ok && result.kind).toBe('domain');
    if (!result.ok) return;
    const expected = create(DomainSchema, {
      domain: 'img.example.com',
      pool: 'default',
      answers: 2,
      ttlS: 30,
      strategy: Strategy.CONSISTENT,
      fallback: [Tier.ISP_REGION, Tier.REGION, Tier.ISP_COUNTRY, Tier.COUNTRY, Tier.ANY],
      allDown: AllDownPolicy.ERROR,
    });
    expect(equals(DomainSchema, result.domain, expected)).toBe(true);
  });

  it('defaults allDown to best-effort when absent or null', () => {
    for (const allDown of [undefined, null]) {
      const result = parseDomainDocument(KEY, JSON.stringify({ ...GOOD, allDown }));
      expect(result.ok && result.domain.allDown).toBe(AllDownPolicy.BEST_EFFORT);
    }
  });

  it('maps both strategies and both all-down policies', () => {
    const strategy = (name: string) => {
      const result = parseDomainDocument(KEY, JSON.stringify({ ...GOOD, strategy: name }));
      return result.ok ? result.domain.strategy : undefined;
    };
    expect(strategy('weighted')).toBe(Strategy.WEIGHTED);
    expect(strategy('consistent')).toBe(Strategy.CONSISTENT);
    const result = parseDomainDocument(KEY, JSON.stringify({ ...GOOD, allDown: 'best-effort' }));
    expect(result.ok && result.domain.allDown).toBe(AllDownPolicy.BEST_EFFORT);
  });
});

describe('parseDomainDocument: field rules', () => {
  it('domain must be present and equal the key', () => {
    expect(problemsWith({ domain: 'www.example.com' })).toEqual(['domain "www.example.com" does not match key /cdn/domains/img.example.com']);
    expect(problemsWith({ domain: 'IMG.example.com' })).toEqual(['domain "IMG.example.com" does not match key /cdn/domains/img.example.com']);
    expect(problemsWith({ domain: undefined })).toEqual(['domain: required, must be a domain name']);
  });

  it('the key must hold a lower-case fully qualified name without the trailing dot', () => {
    expect(problemsWith({ domain: 'IMG.example.com' }, '/cdn/domains/IMG.example.com')).toEqual([
      'key /cdn/domains/IMG.example.com: domain must be lower case; did you mean "img.example.com"?',
    ]);
    expect(problemsWith({ domain: 'img.example.com.' }, '/cdn/domains/img.example.com.')).toEqual([
      'key /cdn/domains/img.example.com.: domain must be written without the trailing dot; did you mean "img.example.com"?',
    ]);
    expect(problemsWith({ domain: 'cdn' }, '/cdn/domains/cdn')).toEqual([
      'key /cdn/domains/cdn: domain must be a fully qualified name such as "cdn.example.com", got "cdn"',
    ]);
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;
    expect(problemsWith({ domain: long }, `/cdn/domains/${long}`)).toEqual([`key /cdn/domains/${long}: domain must be at most 253 characters, got 254`]);
  });

  it('pool must be a pool name', () => {
    expect(problemsWith({ pool: 'Default' })).toEqual(['pool: must be a pool name matching [a-z0-9][a-z0-9_.-]* (at most 64 characters), got "Default"']);
    expect(problemsWith({ pool: '' })).toHaveLength(1);
    expect(problemsWith({ pool: undefined })).toEqual(['pool: required, must be a pool name matching [a-z0-9][a-z0-9_.-]* (at most 64 characters)']);
  });

  it('answers must be 1 to 16', () => {
    expect(problemsWith({ answers: 1 })).toEqual([]);
    expect(problemsWith({ answers: 16 })).toEqual([]);
    expect(problemsWith({ answers: 0 })).toEqual(['answers: must be an integer from 1 to 16, got 0']);
    expect(problemsWith({ answers: 17 })).toEqual(['answers: must be an integer from 1 to 16, got 17']);
    expect(problemsWith({ answers: 2.5 })).toEqual(['answers: must be an integer from 1 to 16, got 2.5']);
  });

  it('ttl must be 1 to 86400 seconds', () => {
    expect(problemsWith({ ttl: 1 })).toEqual([]);
    expect(problemsWith({ ttl: 86_400 })).toEqual([]);
    expect(problemsWith({ ttl: 0 })).toEqual(['ttl: must be an integer from 1 to 86400 seconds, got 0']);
    expect(problemsWith({ ttl: 86_401 })).toEqual(['ttl: must be an integer from 1 to 86400 seconds, got 86401']);
    expect(problemsWith({ ttl: '30s' })).toEqual(['ttl: must be an integer from 1 to 86400 seconds, got "30s"']);
  });

  it('strategy must be weighted or consistent', () => {
    expect(problemsWith({ strategy: 'round-robin' })).toEqual(['strategy: must be one of weighted|consistent, got "round-robin"']);
    expect(problemsWith({ strategy: undefined })).toEqual(['strategy: required, must be one of weighted|consistent']);
  });

  it('fallback must be a non-empty list of known tiers without repeats', () => {
    expect(problemsWith({ fallback: [] })).toEqual(['fallback: must be a non-empty array of tiers (isp+region|region|isp+country|country|any), got []']);
    expect(problemsWith({ fallback: 'any' })).toHaveLength(1);
    expect(problemsWith({ fallback: ['region', 'city', 'region'] })).toEqual([
      'fallback[1]: must be one of isp+region|region|isp+country|country|any, got "city"',
      'fallback[2]: duplicate of fallback[0] "region"',
    ]);
    expect(problemsWith({ fallback: ['any'] })).toEqual([]);
    expect(problemsWith({ fallback: ['country'] })).toEqual([]);
  });

  it('fallback must not list a tier after one that contains it', () => {
    expect(problemsWith({ fallback: ['country', 'region', 'any'] })).toEqual([
      'fallback[1]: "region" after "country" is never tried: every node of "region" is also in "country"',
    ]);
    expect(problemsWith({ fallback: ['any', 'country'] })).toEqual(['fallback[1]: "country" after "any" is never tried: every node of "country" is also in "any"']);
    expect(problemsWith({ fallback: ['isp+country', 'region', 'country'] })).toEqual([]);
  });

  it('allDown must be best-effort or error', () => {
    expect(problemsWith({ allDown: 'fail' })).toEqual(['allDown: must be one of best-effort|error, got "fail"']);
    expect(problemsWith({ allDown: 'best_effort' })).toEqual(['allDown: must be one of best-effort|error, got "best_effort"']);
  });

  it('unknown fields are rejected by name, with a suggestion for typos', () => {
    expect(problemsWith({ fallbak: ['any'] })).toEqual(['fallbak: unknown field; did you mean "fallback"?']);
    expect(problemsWith({ alldown: 'error' })).toEqual(['alldown: unknown field; did you mean "allDown"?']);
    expect(problemsWith({ ttl_s: 30, ttl: undefined })).toEqual([
      'ttl_s: unknown field; did you mean "ttl"?',
      'ttl: required, must be an integer from 1 to 86400 seconds',
    ]);
  });

  it('rejects invalid JSON, oversized values and keys of another kind', () => {
    expect(parseDomainDocument(KEY, '{"domain":"img.example.com"')).toMatchObject({
      ok: false,
      kind: 'domain',
      reason: 'invalid JSON at position 27 (line 1, column 28): expected "," or "}" after a property value, found end of input',
    });
    expect(parseDomainDocument(KEY, 'x'.repeat(65_537))).toMatchObject({ reason: 'value is 65537 bytes, over the 65536-byte limit' });
    expect(parseDomainDocument('/cdn/nodes/n1', JSON.stringify(GOOD))).toMatchObject({
      reason: 'key /cdn/nodes/n1 is not a domain key; expected /cdn/domains/<fqdn>',
    });
    expect(parseDomainDocument(KEY, '"img.example.com"')).toMatchObject({ reason: 'document: must be a JSON object, got a string' });
  });
});

describe('documentOfDomain', () => {
  it('round-trips a document: parse, then back to the same JSON', () => {
    const result = parseDomainDocument(KEY, JSON.stringify(GOOD));
    expect(result.ok && documentOfDomain(result.domain)).toEqual(GOOD);
  });

  it('writes allDown even when it is the default', () => {
    const result = parseDomainDocument(KEY, JSON.stringify({ ...GOOD, allDown: undefined }));
    expect(result.ok && documentOfDomain(result.domain).allDown).toBe('best-effort');
  });

  it('round-trips every strategy, policy and valid chain shape back to the same message', () => {
    const chains = [[Tier.ANY], [Tier.REGION, Tier.ANY], [Tier.ISP_REGION, Tier.ISP_COUNTRY, Tier.REGION, Tier.COUNTRY, Tier.ANY]];
    for (const strategy of [Strategy.WEIGHTED, Strategy.CONSISTENT]) {
      for (const allDown of [AllDownPolicy.BEST_EFFORT, AllDownPolicy.ERROR]) {
        for (const fallback of chains) {
          const domain = create(DomainSchema, { domain: 'a.example.org', pool: 'p', answers: 16, ttlS: 86_400, strategy, fallback, allDown });
          const result = parseDomainDocument('/cdn/domains/a.example.org', JSON.stringify(documentOfDomain(domain)));
          expect(result.ok && equals(DomainSchema, result.domain, domain)).toBe(true);
        }
      }
    }
  });

  it('throws for enum values that have no document form', () => {
    const base = { domain: 'a.example.org', pool: 'p', answers: 1, ttlS: 1, fallback: [Tier.ANY], allDown: AllDownPolicy.ERROR };
    expect(() => documentOfDomain(create(DomainSchema, base))).toThrow('strategy: UNSPECIFIED has no document form');
    expect(() => documentOfDomain(create(DomainSchema, { ...base, strategy: Strategy.WEIGHTED, allDown: AllDownPolicy.UNSPECIFIED }))).toThrow(
      'allDown: UNSPECIFIED has no document form',
    );
    expect(() => documentOfDomain(create(DomainSchema, { ...base, strategy: Strategy.WEIGHTED, fallback: [Tier.UNSPECIFIED] }))).toThrow(
      'fallback: UNSPECIFIED has no document form',
    );
  });
});
