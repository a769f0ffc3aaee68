import { describe, expect, it } from 'vitest';
import { domainNameProblem, isAddress } from './host-names.js';

describe('domainNameProblem', () => {
  it('accepts lower-case fully qualified names up to 253 characters', () => {
    for (const name of ['img.example.com', 'a.b', 'xn--fiqs8s.example', 'cdn-1.example.co.uk', '0.example.com', `${'a'.repeat(63)}.com`]) {
      expect(domainNameProblem(name), name).toBeUndefined();
    }
    const longest = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(longest).toHaveLength(253);
    expect(domainNameProblem(longest)).toBeUndefined();
    expect(domainNameProblem(`${longest}d`)).toBe('must be at most 253 characters, got 254');
  });

  it('explains each way a name can be wrong, with the fix when there is one', () => {
    expect(domainNameProblem('')).toBe('must not be empty');
    expect(domainNameProblem('img.example.com.')).toBe('must be written without the trailing dot; did you mean "img.example.com"?');
    expect(domainNameProblem('Img.Example.com')).toBe('must be lower case; did you mean "img.example.com"?');
    expect(domainNameProblem('中国.example')).toBe('must be ASCII; write the IDNA form "xn--fiqs8s.example"');
    expect(domainNameProblem('localhost')).toBe('must be a fully qualified name such as "cdn.example.com", got "localhost"');
    expect(domainNameProblem('a..com')).toBe('must not contain an empty label, got "a..com"');
    expect(domainNameProblem('-a.com')).toBe('label "-a" must be 1 to 63 letters, digits or "-", not starting or ending with "-"');
    expect(domainNameProblem('a_b.com')).toBe('label "a_b" must be 1 to 63 letters, digits or "-", not starting or ending with "-"');
    expect(domainNameProblem(`${'a'.repeat(64)}.com`)).toMatch(/^label "a{64}" must be 1 to 63/);
    expect(domainNameProblem('1.2.3.4')).toBe('must not end in an all-numeric label, got "1.2.3.4"');
    expect(domainNameProblem(`${'a.'.repeat(127)}com`)).toBe('must be at most 253 characters, got 257');
  });
});

describe('isAddress', () => {
  it('accepts IPv4 and IPv6 literals and host names', () => {
    for (const text of ['203.0.113.10', '::1', '2001:db8::10', '::ffff:192.0.2.1', 'edge1.example.net', 'EDGE1.Example.NET', 'edge1']) {
      expect(isAddress(text), text).toBe(true);
    }
  });

  it('refuses broken literals, bracketed or zoned IPv6, URLs and junk', () => {
    for (const text of ['', '256.1.1.1', '10.0.0', '1.2.3.4.5', '[2001:db8::1]', 'fe80::1%eth0', 'http://edge1', 'edge1:443', 'edge 1', 'edge_1.example', 'edge1.example.', 'éxample.com']) {
      expect(isAddress(text), text).toBe(false);
    }
  });
});
