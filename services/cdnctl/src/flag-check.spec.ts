import { describe, expect, it } from 'vitest';
import { parseArgs } from './cli.js';
import { checkFlags, editDistance, flagsIn, nearestFlag } from './flag-check.js';

describe('unknown flags', () => {
  it('measures edit distance with adjacent transpositions as one edit', () => {
    expect(editDistance('answers', 'answers')).toBe(0);
    expect(editDistance('answer', 'answers')).toBe(1);
    expect(editDistance('jsno', 'json')).toBe(1);
    expect(editDistance('ca', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('suggests the nearest known flag only when it is a plausible typo', () => {
    const known = ['answers', 'json', 'resolver', 'etcd-endpoints', 'help'];
    expect(nearestFlag('answer', known)).toBe('answers');
    expect(nearestFlag('jsno', known)).toBe('json');
    expect(nearestFlag('etcd-endpoint', known)).toBe('etcd-endpoints');
    expect(nearestFlag('resolvr', known)).toBe('resolver');
    expect(nearestFlag('x', known)).toBeUndefined();
    expect(nearestFlag('frobnicate', known)).toBeUndefined();
  });

  it('reads the flags of a usage line', () => {
    expect(flagsIn('resolve <ip|subnet> <domain> [--answers N] [--json]')).toEqual(['answers', 'json']);
  });

  it('refuses an unknown flag with exit code 2 and the suggestion, and accepts known ones', () => {
    const known = new Set(['answers', 'json', 'help']);
    expect(() => checkFlags(parseArgs(['resolve', '1.2.3.4', 'a.example', '--answers', '2', '--json']), known, 'resolve')).not.toThrow();
    let error: unknown;
    try {
      checkFlags(parseArgs(['resolve', '1.2.3.4', 'a.example', '--answer', '2']), known, 'resolve');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ exitCode: 2, message: 'unknown flag --answer; did you mean --answers? (see cdnctl resolve --help)' });
    expect(() => checkFlags(parseArgs(['--frobnicate']), known, 'resolve')).toThrow('unknown flag --frobnicate (see cdnctl resolve --help)');
  });
});
