import type { KeyValue, WatchEvent } from '@cdn-sched/etcd';
import { createVersionedStore, type ConfigEntry } from '@cdn-sched/stream';
import { describe, expect, it } from 'vitest';
import { createConfigState } from './config-state.js';

const enc = new TextEncoder();
let rev = 100;
const kv = (key: string, value: string | object, modRevision = ++rev): KeyValue => ({
  key,
  value: enc.encode(typeof value === 'string' ? value : JSON.stringify(value)),
  createRevision: modRevision,
  modRevision,
  version: 1,
  lease: 0n,
});
const put = (key: string, value: string | object): WatchEvent => ({ type: 'put', kv: kv(key, value) });
const del = (key: string): WatchEvent => ({ type: 'delete', kv: kv(key, '') });
const node = (id: string, extra: object = {}) => ({ id, address: '10.0.0.1', port: 80, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 100, state: 'active', pools: ['p'], ...extra });

function setup() {
  const store = createVersionedStore<ConfigEntry>();
  const rejected: string[] = [];
  const heartbeats: string[] = [];
  const state = createConfigState({ store, prefix: '/cdn/', onRejected: (key, reason) => rejected.push(`${key}: ${reason}`), onHeartbeat: (key) => heartbeats.push(key) });
  return { store, state, rejected, heartbeats };
}
const capacity = (e: ConfigEntry | undefined) => (e?.kind === 'node' ? e.node.capacityRps : undefined);

describe('config state', () => {
  it('loads a list, keeps only documents, and reports rejections', () => {
    const { store, state, rejected } = setup();
    state.applyList([kv('/cdn/nodes/a', node('a')), kv('/cdn/nodes/b', '{bad'), kv('/cdn/weights/a', '{}'), kv('/cdn/heartbeat/x', '{}')], 50);
    expect(store.version).toBe(50);
    expect([...store.entries.keys()].sort()).toEqual(['node/a', 'rejected//cdn/nodes/b']);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatch(/^\/cdn\/nodes\/b: /);
  });

  it('keeps the last good value of a key whose new value is rejected, and clears the rejection when fixed', () => {
    const { store, state } = setup();
    state.applyList([kv('/cdn/nodes/a', node('a', { capacity: 10 }))], 1);
    state.applyEvents([put('/cdn/nodes/a', node('a', { capacity: -1 }))], 2);
    expect(capacity(store.entries.get('node/a'))).toBe(10);
    expect(store.entries.has('rejected//cdn/nodes/a')).toBe(true);
    state.applyEvents([put('/cdn/nodes/a', node('a', { capacity: 20 }))], 3);
    expect(capacity(store.entries.get('node/a'))).toBe(20);
    expect(store.entries.has('rejected//cdn/nodes/a')).toBe(false);
    expect(store.changesSince(2)).toEqual([
      { key: 'node/a', value: store.entries.get('node/a') },
      { key: 'rejected//cdn/nodes/a', value: undefined },
    ]);
  });

  it('a delete deletes the document and its rejection', () => {
    const { store, state } = setup();
    state.applyList([kv('/cdn/nodes/a', node('a'))], 1);
    state.applyEvents([put('/cdn/nodes/a', '{'), del('/cdn/nodes/a')], 5);
    expect(store.entries.size).toBe(0);
    expect(store.version).toBe(5);
  });

  it('feeds heartbeats to the latency probe without creating a version', () => {
    const { store, state, heartbeats } = setup();
    state.applyList([], 1);
    state.applyEvents([put('/cdn/heartbeat/cw-1', { sentAtMs: 1 })], 2);
    expect(heartbeats).toEqual(['/cdn/heartbeat/cw-1']);
    expect(store.version).toBe(1);
  });

  it('turns a relist (after compaction) into one delta of what changed while it was not watching', () => {
    const { store, state } = setup();
    state.applyList([kv('/cdn/nodes/a', node('a')), kv('/cdn/nodes/b', node('b')), kv('/cdn/nodes/c', node('c', { capacity: 5 }))], 10);
    state.applyList([kv('/cdn/nodes/a', node('a')), kv('/cdn/nodes/c', node('c', { capacity: 6 })), kv('/cdn/nodes/d', node('d')), kv('/cdn/nodes/b', '{oops')], 20);
    expect(store.version).toBe(20);
    const changes = store.changesSince(10)!;
    // a unchanged (absent from the delta); b rejected but its last good value kept; c updated; d added.
    expect(changes.map((c) => [c.key, c.value === undefined ? 'delete' : c.value.kind])).toEqual([
      ['node/c', 'node'],
      ['node/d', 'node'],
      ['rejected//cdn/nodes/b', 'rejected'],
    ]);
    expect(store.entries.has('node/b')).toBe(true);
    state.applyList([kv('/cdn/nodes/a', node('a'))], 30);
    expect([...store.entries.keys()].sort()).toEqual(['node/a']);
  });

  it("hands every writer's traceparent of a merged batch to the commit, not only the newest, and none to a relist", () => {
    const store = createVersionedStore<ConfigEntry>();
    const commits: [number, number, readonly string[]][] = [];
    const resets: [number, number][] = [];
    const state = createConfigState({ store, prefix: '/cdn/', onCommit: (r, c, w) => commits.push([r, c.length, w]), onReset: (r, n) => resets.push([r, n]) });
    state.applyList([kv('/cdn/nodes/a', node('a')), kv('/cdn/traces/cdnctl', 'stale')], 10);
    // The startup list is announced as a reset of the store at its revision, with its size.
    expect(resets).toEqual([[10, 1]]);
    const first = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const second = '00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01';
    // Two writes (two revisions) that reached the config-watcher in one watch response: one version.
    state.applyEvents([put('/cdn/nodes/b', node('b')), put('/cdn/traces/cdnctl', first), put('/cdn/nodes/c', node('c')), put('/cdn/traces/cdnctl', second), del('/cdn/traces/other')], 12);
    state.applyEvents([put('/cdn/nodes/d', node('d'))], 13);
    state.applyList([kv('/cdn/nodes/a', node('a'))], 20);
    expect(commits).toEqual([
      [12, 2, [first, second]],
      [13, 1, []],
      [20, 3, []],
    ]);
    // The trace keys are not documents: nothing of them reaches the store.
    expect([...store.entries.keys()].sort()).toEqual(['node/a']);
  });
});
