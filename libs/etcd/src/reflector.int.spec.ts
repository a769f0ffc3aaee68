import { startEtcd, startTcpProxy, waitFor, type EtcdProcess, type TcpProxy } from '@cdn-sched/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient, createReflector, toText, type EtcdClient, type ListReason } from './index.js';

/** A consumer that applies snapshots and events to a map, the way config-watcher does. */
function createMirror() {
  const state = new Map<string, string>();
  const log: { kind: 'snapshot' | 'event'; reason?: ListReason; key?: string; revision: number }[] = [];
  let applied = 0;
  return {
    state,
    log,
    get applied() {
      return applied;
    },
    onSnapshot(kvs: { key: string; value: Uint8Array }[], revision: number, reason: ListReason) {
      state.clear();
      for (const kv of kvs) state.set(kv.key, toText(kv.value));
      log.push({ kind: 'snapshot', reason, revision });
    },
    onEvents(events: { type: 'put' | 'delete'; kv: { key: string; value: Uint8Array; modRevision: number } }[]) {
      for (const e of events) {
        applied++;
        if (e.type === 'put') state.set(e.kv.key, toText(e.kv.value));
        else state.delete(e.kv.key);
        log.push({ kind: 'event', key: e.kv.key, revision: e.kv.modRevision });
      }
    },
  };
}

async function etcdState(client: EtcdClient, prefix: string): Promise<Map<string, string>> {
  const { kvs } = await client.list(prefix);
  return new Map(kvs.map((kv) => [kv.key, toText(kv.value)]));
}

describe('reflector against a real etcd', () => {
  let etcd: EtcdProcess;
  let direct: EtcdClient;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    direct = createEtcdClient({ endpoints: [etcd.endpoint] });
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(async () => {
    direct.close();
    await etcd.stop();
  });

  it('writes and watches keys: snapshot, then puts and deletes in revision order', async () => {
    const prefix = '/t1/';
    await direct.put(`${prefix}a`, '1');
    const mirror = createMirror();
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    const reflector = createReflector({ client, prefix, ...mirror });
    cleanups.push(() => client.close(), () => reflector.close());
    await waitFor(() => reflector.state === 'watching' || mirror.log.length > 0, { message: 'first snapshot' });
    expect(mirror.log[0]).toMatchObject({ kind: 'snapshot', reason: 'initial' });
    expect(mirror.state.get(`${prefix}a`)).toBe('1');
    const r1 = await direct.put(`${prefix}b`, '2');
    const r2 = await direct.put(`${prefix}a`, '3');
    await direct.delete(`${prefix}b`);
    await direct.put('/other/x', 'ignored');
    await waitFor(() => mirror.applied === 3, { message: '3 events' });
    const events = mirror.log.filter((l) => l.kind === 'event');
    expect(events.map((e) => e.key)).toEqual([`${prefix}b`, `${prefix}a`, `${prefix}b`]);
    expect(events[0]!.revision).toBe(r1);
    expect(events[1]!.revision).toBe(r2);
    expect(events.map((e) => e.revision)).toEqual([...events.map((e) => e.revision)].sort((a, b) => a - b));
    expect(mirror.state).toEqual(await etcdState(direct, prefix));
    expect(reflector.revision).toBe(events[2]!.revision);
  });

  it('resumes from the last applied revision after a network cut: nothing lost, nothing twice', async () => {
    const prefix = '/t2/';
    const proxy: TcpProxy = await startTcpProxy({ targetPort: etcd.clientPort });
    const client = createEtcdClient({ endpoints: [proxy.endpoint] });
    const mirror = createMirror();
    const reflector = createReflector({ client, prefix, ...mirror, backoff: { baseMs: 20, maxMs: 200 } });
    cleanups.push(() => proxy.close(), () => client.close(), () => reflector.close());
    await waitFor(() => reflector.state === 'watching', { message: 'watching' });
    for (let i = 0; i < 5; i++) await direct.put(`${prefix}k${i}`, `v${i}`);
    await waitFor(() => mirror.applied === 5, { message: 'first 5 events' });
    await proxy.setMode('refuse');
    for (let i = 5; i < 15; i++) await direct.put(`${prefix}k${i % 7}`, `w${i}`);
    await direct.delete(`${prefix}k1`);
    await proxy.setMode('pass');
    await waitFor(() => mirror.applied === 16, { timeoutMs: 10_000, message: 'events missed during the cut' });
    const keys = mirror.log.filter((l) => l.kind === 'event').map((l) => l.revision);
    expect(new Set(keys).size).toBe(keys.length);
    expect(mirror.log.filter((l) => l.kind === 'snapshot')).toHaveLength(1);
    expect(mirror.state).toEqual(await etcdState(direct, prefix));
  });

  it('relists when the resume revision was compacted while it was cut off', async () => {
    const prefix = '/t3/';
    const proxy = await startTcpProxy({ targetPort: etcd.clientPort });
    const client = createEtcdClient({ endpoints: [proxy.endpoint] });
    const mirror = createMirror();
    const states: string[] = [];
    const reflector = createReflector({
      client,
      prefix,
      ...mirror,
      backoff: { baseMs: 20, maxMs: 200 },
      onStateChange: (s) => states.push(s),
    });
    cleanups.push(() => proxy.close(), () => client.close(), () => reflector.close());
    await direct.put(`${prefix}keep`, 'old');
    await direct.put(`${prefix}gone`, 'x');
    await waitFor(() => mirror.state.get(`${prefix}gone`) === 'x', { message: 'initial events' });
    await proxy.setMode('refuse');
    await direct.put(`${prefix}keep`, 'new');
    await direct.delete(`${prefix}gone`);
    const rev = await direct.put(`${prefix}added`, 'y');
    await direct.compact(rev);
    await proxy.setMode('pass');
    await waitFor(() => mirror.log.some((l) => l.kind === 'snapshot' && l.reason === 'compacted'), {
      timeoutMs: 10_000,
      message: 'relist after compaction',
    });
    expect(mirror.state).toEqual(await etcdState(direct, prefix));
    expect(mirror.state.has(`${prefix}gone`)).toBe(false);
    const snapshots = mirror.log.filter((l) => l.kind === 'snapshot');
    expect(snapshots[1]!.revision).toBeGreaterThanOrEqual(rev);
    // Keeps watching after the relist.
    await direct.put(`${prefix}after`, 'z');
    await waitFor(() => mirror.state.get(`${prefix}after`) === 'z', { message: 'event after relist' });
  });

  it('survives an etcd restart mid-stream and converges with etcd', async () => {
    const prefix = '/t4/';
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    const mirror = createMirror();
    const reflector = createReflector({ client, prefix, ...mirror, backoff: { baseMs: 50, maxMs: 300 } });
    cleanups.push(() => client.close(), () => reflector.close());
    await waitFor(() => reflector.state === 'watching', { message: 'watching' });
    for (let i = 0; i < 3; i++) await direct.put(`${prefix}n${i}`, `a${i}`);
    await waitFor(() => mirror.state.size === 3, { message: 'before restart' });
    await etcd.kill();
    await waitFor(() => reflector.state === 'disconnected', { timeoutMs: 15_000, message: 'disconnect seen' });
    await etcd.restart();
    for (let i = 0; i < 3; i++) await direct.put(`${prefix}n${i}`, `b${i}`);
    await direct.delete(`${prefix}n0`);
    await waitFor(async () => JSON.stringify([...mirror.state]) === JSON.stringify([...(await etcdState(direct, prefix))]), {
      timeoutMs: 15_000,
      message: 'state equal to etcd after restart',
    });
    const revisions = mirror.log.filter((l) => l.kind === 'event').map((l) => l.revision);
    expect(new Set(revisions).size).toBe(revisions.length);
    expect(mirror.applied).toBe(7);
  });
});
