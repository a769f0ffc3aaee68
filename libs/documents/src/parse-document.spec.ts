import { NodeState, Strategy } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { parseDocument } from './parse-document.js';

const NODE = { id: 'n1', address: '203.0.113.1', port: 443, country: 'CN', capacity: 100, state: 'drain', pools: ['default'] };
const DOMAIN = { domain: 'img.example.com', pool: 'default', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['country', 'any'] };

describe('parseDocument', () => {
  it('dispatches node keys to the node validator', () => {
    const result = parseDocument('/cdn/nodes/n1', JSON.stringify(NODE));
    expect(result.ok && result.kind === 'node' && result.node.state).toBe(NodeState.DRAIN);
  });

  it('dispatches domain keys to the domain validator', () => {
    const result = parseDocument('/cdn/domains/img.example.com', JSON.stringify(DOMAIN));
    expect(result.ok && result.kind === 'domain' && result.domain.strategy).toBe(Strategy.WEIGHTED);
  });

  it('ignores keys the services own, whatever their value', () => {
    for (const key of ['/cdn/weights/n1', '/cdn/members/prober/p1', '/cdn/election/weight-calculator/694d', '/cdn/heartbeat/r1', '/elsewhere/nodes/n1']) {
      expect(parseDocument(key, new Uint8Array([0xff, 0x00]))).toEqual({ ok: true, kind: 'ignored', key });
    }
  });

  it('returns a rejection naming the key, kind and reason', () => {
    expect(parseDocument('/cdn/nodes/n1', JSON.stringify({ ...NODE, capacity: -3 }))).toEqual({
      ok: false,
      kind: 'node',
      key: '/cdn/nodes/n1',
      reason: 'capacity: must be a number > 0, got -3',
      problems: ['capacity: must be a number > 0, got -3'],
    });
    expect(parseDocument('/cdn/domains/img.example.com', '{')).toMatchObject({ ok: false, kind: 'domain', key: '/cdn/domains/img.example.com' });
  });

  it('uses the configured prefix, with or without its trailing slash', () => {
    expect(parseDocument('/prod/cdn/nodes/n1', JSON.stringify(NODE), { prefix: '/prod/cdn' })).toMatchObject({ ok: true, kind: 'node' });
    expect(parseDocument('/cdn/nodes/n1', JSON.stringify(NODE), { prefix: '/prod/cdn/' })).toMatchObject({ ok: true, kind: 'ignored' });
  });

  it('applies the size limit to every document kind', () => {
    const big = JSON.stringify({ ...NODE, pad: 'x'.repeat(70_000) });
    expect(parseDocument('/cdn/nodes/n1', big)).toMatchObject({ ok: false, reason: `value is ${big.length} bytes, over the 65536-byte limit` });
    expect(parseDocument('/cdn/nodes/n1', JSON.stringify(NODE), { maxBytes: 10 })).toMatchObject({ ok: false });
  });
});
