import { describe, expect, it } from 'vitest';
import { DEFAULT_PREFIX, domainKey, keyKind, nodeIdProblem, nodeKey, normalizePrefix } from './document-keys.js';

describe('document keys', () => {
  it('defaults to /cdn/ and normalises the trailing slash', () => {
    expect(DEFAULT_PREFIX).toBe('/cdn/');
    expect(normalizePrefix('/cdn')).toBe('/cdn/');
    expect(normalizePrefix('/cdn/')).toBe('/cdn/');
    expect(normalizePrefix('/cdn//')).toBe('/cdn/');
    expect(normalizePrefix('/a/b')).toBe('/a/b/');
    expect(() => normalizePrefix('')).toThrow('prefix: must not be empty, e.g. "/cdn/"');
  });

  it('builds node and domain keys', () => {
    expect(nodeKey('/cdn/', 'gz-ct-01')).toBe('/cdn/nodes/gz-ct-01');
    expect(nodeKey('/staging/cdn', 'n1')).toBe('/staging/cdn/nodes/n1');
    expect(domainKey('/cdn/', 'img.example.com')).toBe('/cdn/domains/img.example.com');
  });

  it('refuses to build a key from an invalid id or name', () => {
    expect(() => nodeKey('/cdn/', 'a/b')).toThrow(/^node id: must be 1 to 64 letters/);
    expect(() => nodeKey('/cdn/', '')).toThrow(RangeError);
    expect(() => domainKey('/cdn/', 'IMG.example.com')).toThrow('domain: must be lower case; did you mean "img.example.com"?');
  });

  it('tells node, domain and other keys apart', () => {
    expect(keyKind('/cdn/', '/cdn/nodes/n1')).toEqual({ kind: 'node', id: 'n1' });
    expect(keyKind('/cdn', '/cdn/domains/img.example.com')).toEqual({ kind: 'domain', domain: 'img.example.com' });
    expect(keyKind('/cdn/', '/cdn/nodes/a/b')).toEqual({ kind: 'node', id: 'a/b' });
    expect(keyKind('/cdn/', '/cdn/nodes/')).toEqual({ kind: 'node', id: '' });
    for (const key of ['/cdn/weights/n1', '/cdn/members/prober/p1', '/cdn/election/weight-calculator', '/cdn/heartbeat/x', '/cdn/nodes', '/other/nodes/n1', '/cdnx/nodes/n1']) {
      expect(keyKind('/cdn/', key), key).toEqual({ kind: 'ignored' });
    }
  });

  it('checks node ids', () => {
    for (const id of ['n1', 'gz-ct-01', 'EDGE.1', 'a_b', 'a'.repeat(64)]) expect(nodeIdProblem(id), id).toBeUndefined();
    for (const id of ['', '-n1', '.n1', 'a/b', 'a b', 'a'.repeat(65), 'nœud']) {
      expect(nodeIdProblem(id), id).toBe(`must be 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit, got ${JSON.stringify(id)}`);
    }
  });
});
