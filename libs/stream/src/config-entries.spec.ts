import { create } from '@bufbuild/protobuf';
import { DomainSchema, NodeSchema } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { configView, domainEntryKey, nodeChanges, nodeEntryKey, parseConfigEntryKey, rejectedEntryKey, type ConfigEntry } from './config-entries.js';

const node = (id: string) => create(NodeSchema, { id });
const domain = (fqdn: string) => create(DomainSchema, { domain: fqdn });

describe('config entry keys', () => {
  it('parses what the key builders make, ids with slashes included', () => {
    expect(parseConfigEntryKey(nodeEntryKey('gd-ct-1'))).toEqual({ kind: 'node', id: 'gd-ct-1' });
    expect(parseConfigEntryKey(domainEntryKey('music.example'))).toEqual({ kind: 'domain', fqdn: 'music.example' });
    expect(parseConfigEntryKey(rejectedEntryKey('/cdn/nodes/b'))).toEqual({ kind: 'rejected', etcdKey: '/cdn/nodes/b' });
    expect(parseConfigEntryKey('weight/a')).toBeUndefined();
    expect(parseConfigEntryKey('nodes/a')).toBeUndefined();
  });
});

describe('configView and nodeChanges', () => {
  const entries = new Map<string, ConfigEntry>([
    [nodeEntryKey('a'), { kind: 'node', node: node('a') }],
    [nodeEntryKey('b'), { kind: 'node', node: node('b') }],
    [domainEntryKey('m.example'), { kind: 'domain', domain: domain('m.example') }],
  ]);

  it('gives nodes by id and domains by name', () => {
    const view = configView(entries);
    expect([...view.nodes.keys()]).toEqual(['a', 'b']);
    expect(view.domains.get('m.example')?.domain).toBe('m.example');
  });

  it('gives every node of a snapshot, and the upserts and removals of a delta', () => {
    expect(nodeChanges({ snapshot: true, changes: [] }, entries)).toEqual({ snapshot: true, upserted: [node('a'), node('b')], removedIds: [] });
    const delta = nodeChanges(
      {
        snapshot: false,
        changes: [
          { key: nodeEntryKey('a'), value: { kind: 'node', node: node('a') } },
          { key: nodeEntryKey('c'), value: undefined },
          { key: domainEntryKey('m.example'), value: undefined },
          { key: rejectedEntryKey('/cdn/nodes/d'), value: undefined },
        ],
      },
      entries,
    );
    expect(delta).toEqual({ snapshot: false, upserted: [node('a')], removedIds: ['c'] });
  });
});
