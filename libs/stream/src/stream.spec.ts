import { createSeededUniform } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import {
  createStreamConsumer,
  createVersionedStore,
  serveVersionedStream,
  type Change,
  type StreamEncoder,
  type StreamMessage,
  type VersionedStore,
} from './index.js';

type Msg = StreamMessage<string>;
const encoder = (epoch: string): StreamEncoder<string, Msg> => ({
  snapshot: (version, entries, reason) => ({ kind: 'snapshot', epoch, version, entries: [...entries], reason }),
  delta: (fromVersion, version, changes) => ({ kind: 'delta', epoch, fromVersion, version, changes: [...changes] }),
  progress: (version) => ({ kind: 'progress', epoch, version, watchLatencyP99Ms: 12 }),
});
const put = (key: string, value: string): Change<string> => ({ key, value });
const del = (key: string): Change<string> => ({ key, value: undefined });

async function take(gen: AsyncGenerator<Msg>, n: number): Promise<Msg[]> {
  const out: Msg[] = [];
  for (let i = 0; i < n; i++) out.push((await gen.next()).value as Msg);
  return out;
}

describe('versioned store', () => {
  it('merges changes since a version and forgets beyond its history', () => {
    const s = createVersionedStore<string>({ maxHistoryChanges: 3 });
    s.commit(10, [put('a', '1'), put('b', '1')]);
    s.commit(11, [put('a', '2')]);
    expect(s.changesSince(10)).toEqual([put('a', '2')]);
    s.commit(12, [del('b'), put('c', '1')]);
    expect(s.oldestDeltaVersion).toBe(10);
    expect(s.changesSince(9)).toBeUndefined();
    expect(s.changesSince(10)).toEqual([put('a', '2'), del('b'), put('c', '1')]);
    expect(s.changesSince(12)).toEqual([]);
    expect(s.changesSince(13)).toBeUndefined();
    expect([...s.entries]).toEqual([['a', '2'], ['c', '1']]);
    expect(() => s.commit(12, [])).toThrow(/not after/);
    s.reset(20, [['z', '9']]);
    expect(s.changesSince(12)).toBeUndefined();
    expect(s.changesSince(20)).toEqual([]);
    expect([...s.entries]).toEqual([['z', '9']]);
  });
});

/** The history as it was kept before it was trimmed in place: cut (copied) on every commit past the limit. */
function referenceHistory(maxHistory: number) {
  let versions: number[] = [];
  let changes: Change<string>[] = [];
  let oldest = 0;
  return {
    commit(version: number, batch: readonly Change<string>[]) {
      for (const c of batch) {
        versions.push(version);
        changes.push(c);
      }
      if (changes.length <= maxHistory) return;
      let cut = changes.length - maxHistory;
      const lastDropped = versions[cut - 1]!;
      while (cut < versions.length && versions[cut] === lastDropped) cut++;
      versions = versions.slice(cut);
      changes = changes.slice(cut);
      oldest = lastDropped;
    },
    get oldest() {
      return oldest;
    },
    changesSince(since: number, current: number): Change<string>[] | undefined {
      if (since < oldest || since > current) return undefined;
      const merged = new Map<string, Change<string>>();
      for (let i = 0; i < changes.length; i++) {
        if (versions[i]! <= since) continue;
        merged.delete(changes[i]!.key);
        merged.set(changes[i]!.key, changes[i]!);
      }
      return [...merged.values()];
    },
  };
}

describe('versioned store history, against the copy-on-trim reference', () => {
  it('2,000 random commits (empty, small and larger than the history): the same oldest version and the same deltas from every version', () => {
    const random = createSeededUniform(17);
    const int = (n: number) => Math.floor(random() * n);
    for (const maxHistory of [1, 7, 50]) {
      const store = createVersionedStore<string>({ maxHistoryChanges: maxHistory });
      const reference = referenceHistory(maxHistory);
      let version = 0;
      for (let i = 0; i < 2000; i++) {
        version += 1 + int(3);
        const size = int(10) === 0 ? int(3 * maxHistory + 2) : int(6);
        const batch = Array.from({ length: size }, () => (int(5) === 0 ? del(`k${int(30)}`) : put(`k${int(30)}`, `v${i}`)));
        store.commit(version, batch);
        reference.commit(version, batch);
        expect(store.oldestDeltaVersion).toBe(reference.oldest);
        for (let since = Math.max(0, reference.oldest - 2); since <= version + 1; since++) {
          expect(store.changesSince(since)).toEqual(reference.changesSince(since, version));
        }
      }
    }
  });
});

describe('serveVersionedStream', () => {
  const setup = (): VersionedStore<string> => {
    const s = createVersionedStore<string>({ epoch: 'e1' });
    s.reset(5, [['a', '1']]);
    s.commit(6, [put('b', '1')]);
    return s;
  };

  it('sends a snapshot on first connect, then merged deltas', async () => {
    const store = setup();
    const ac = new AbortController();
    const gen = serveVersionedStream({ store, request: { epoch: '', version: 0 }, encoder: encoder('e1'), signal: ac.signal });
    const [first] = await take(gen, 1);
    expect(first).toMatchObject({ kind: 'snapshot', version: 6, reason: 'first connect' });
    store.commit(7, [put('a', '2')]);
    store.commit(8, [put('a', '3'), del('b')]);
    const [second] = await take(gen, 1);
    expect(second).toEqual({ kind: 'delta', epoch: 'e1', fromVersion: 6, version: 8, changes: [put('a', '3'), del('b')] });
    ac.abort();
  });

  it('resumes a client with exactly the deltas it missed, or a snapshot when too old or another epoch', async () => {
    const store = setup();
    const ac = new AbortController();
    const resume = await take(serveVersionedStream({ store, request: { epoch: 'e1', version: 5 }, encoder: encoder('e1'), signal: ac.signal }), 1);
    expect(resume[0]).toMatchObject({ kind: 'delta', fromVersion: 5, version: 6, changes: [put('b', '1')] });
    const upToDate = await take(serveVersionedStream({ store, request: { epoch: 'e1', version: 6 }, encoder: encoder('e1'), signal: ac.signal }), 1);
    expect(upToDate[0]).toMatchObject({ kind: 'progress', version: 6 });
    const tooOld = await take(serveVersionedStream({ store, request: { epoch: 'e1', version: 2 }, encoder: encoder('e1'), signal: ac.signal }), 1);
    expect(tooOld[0]).toMatchObject({ kind: 'snapshot', version: 6 });
    expect((tooOld[0] as { reason: string }).reason).toMatch(/no longer in the history/);
    const otherEpoch = await take(serveVersionedStream({ store, request: { epoch: 'e0', version: 6 }, encoder: encoder('e1'), signal: ac.signal }), 1);
    expect(otherEpoch[0]).toMatchObject({ kind: 'snapshot', reason: 'new server epoch e1' });
    const global = await take(
      serveVersionedStream({ store, request: { epoch: 'e0', version: 5 }, encoder: encoder('e1'), signal: ac.signal, versionsGlobal: true }),
      1,
    );
    expect(global[0]).toMatchObject({ kind: 'delta', fromVersion: 5 });
    ac.abort();
  });

  it('sends progress when quiet and a snapshot to a client that fell out of the history', async () => {
    const store = createVersionedStore<string>({ epoch: 'e1', maxHistoryChanges: 2 });
    store.commit(1, [put('a', '1')]);
    const ac = new AbortController();
    const gen = serveVersionedStream({ store, request: { epoch: '', version: 0 }, encoder: encoder('e1'), signal: ac.signal, progressIntervalMs: 20 });
    await take(gen, 1);
    const [progress] = await take(gen, 1);
    expect(progress).toMatchObject({ kind: 'progress', version: 1 });
    // The client is not reading; meanwhile more changes than the history holds pile up.
    for (let v = 2; v <= 6; v++) store.commit(v, [put(`k${v}`, 'x')]);
    const [next] = await take(gen, 1);
    expect(next).toMatchObject({ kind: 'snapshot', version: 6 });
    expect((next as { reason: string }).reason).toMatch(/fell behind/);
    ac.abort();
  });
});

describe('createStreamConsumer', () => {
  const fromScript = (script: Msg[][]) => {
    let connection = 0;
    const requests: { epoch: string; version: number }[] = [];
    return {
      requests,
      open(request: { epoch: string; version: number }, signal: AbortSignal): AsyncIterable<Msg> {
        requests.push(request);
        const messages = script[connection++] ?? [];
        return (async function* () {
          for (const m of messages) yield m;
          // Then hang until aborted, like an idle stream.
          await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        })();
      },
    };
  };

  it('applies snapshot and deltas, reports staleness, resumes from its version', async () => {
    let clock = 1000;
    const applied: number[] = [];
    const server = fromScript([
      [
        { kind: 'snapshot', epoch: 'e1', version: 3, entries: [['a', '1']], reason: 'first connect' },
        { kind: 'delta', epoch: 'e1', fromVersion: 3, version: 5, changes: [put('b', '2'), del('a')] },
        { kind: 'progress', epoch: 'e1', version: 5, watchLatencyP99Ms: 40 },
      ],
    ]);
    const c = createStreamConsumer<Msg, string>({
      name: 't',
      open: server.open,
      decode: (m) => m,
      onApplied: (u) => applied.push(u.version),
      now: () => clock,
      maxStalenessMs: 500,
    });
    await c.ready();
    await new Promise((r) => setTimeout(r, 20));
    expect([...c.entries]).toEqual([['b', '2']]);
    expect(applied).toEqual([3, 5]);
    expect(c.state.version).toBe(5);
    expect(c.state.watchLatencyP99Ms).toBe(40);
    expect(c.state.stale).toBe(false);
    clock += 600;
    expect(c.state.stale).toBe(true);
    expect(c.state.stalenessMs).toBe(600);
    await c.close();
    expect(server.requests).toEqual([{ epoch: '', version: 0 }]);
  });

  it('counts the server\'s own staleness: a progress from a server cut off from its upstream does not refresh the lease', async () => {
    let clock = 50_000;
    const server = fromScript([
      [
        { kind: 'snapshot', epoch: 'e1', version: 3, entries: [['a', '1']], reason: 'first connect' },
        { kind: 'progress', epoch: 'e1', version: 3, upstreamHealthy: false, upstreamStalenessMs: 20_000 },
      ],
    ]);
    const c = createStreamConsumer<Msg, string>({ name: 't', open: server.open, decode: (m) => m, now: () => clock, maxStalenessMs: 10_000 });
    await c.ready();
    await new Promise((r) => setTimeout(r, 20));
    expect(c.state.connected).toBe(true);
    expect(c.state.stalenessMs).toBe(20_000);
    expect(c.state.stale).toBe(true);
    expect(c.state.upstreamHealthy).toBe(false);
    clock += 1;
    expect(c.state.stalenessMs).toBe(20_001);
    await c.close();
  });

  it('refuses to go back in time or to skip versions, keeps its last good state, and reconnects', async () => {
    const server = fromScript([
      [
        { kind: 'snapshot', epoch: 'e1', version: 10, entries: [['a', '1']], reason: 'first connect' },
        { kind: 'delta', epoch: 'e1', fromVersion: 12, version: 13, changes: [put('a', 'gap')] },
      ],
      [{ kind: 'snapshot', epoch: 'e1', version: 9, entries: [['a', 'old']], reason: 'x' }],
      [{ kind: 'snapshot', epoch: 'e1', version: 14, entries: [['a', 'new']], reason: 'x' }],
    ]);
    const c = createStreamConsumer<Msg, string>({ name: 't', open: server.open, decode: (m) => m, versionsGlobal: true, backoff: { baseMs: 2, maxMs: 4 } });
    await c.ready();
    await new Promise((r) => setTimeout(r, 100));
    expect(c.entries.get('a')).toBe('new');
    expect(c.state.version).toBe(14);
    // After the gap it asked to resume from 10 (never from a version it did not apply).
    expect(server.requests.map((r) => r.version)).toEqual([0, 10, 10]);
    await c.close();
  });
});
