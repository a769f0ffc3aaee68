import { create } from '@bufbuild/protobuf';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { Health, NodeWeightSchema, type NodeWeight } from '@cdn-sched/proto';
import { startEtcd, waitFor, type EtcdProcess } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeightPersister, type PersistedWeight, type WeightPersister } from './weight-persistence.js';

const weight = (nodeId: string, value: number, health = Health.UP): NodeWeight =>
  create(NodeWeightSchema, { nodeId, weight: value, health, updatedAtMs: BigInt(Date.now()) });

/** A promise the test resolves when it wants the gated etcd call to go on. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('weight persister (real etcd)', () => {
  let etcd: EtcdProcess;
  let client: EtcdClient;
  let n = 0;
  const persisters: WeightPersister[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient({ endpoints: [etcd.endpoint] });
  });
  afterAll(async () => {
    for (const p of persisters) await p.close();
    client?.close();
    await etcd?.stop();
  });

  const setup = (wrapped: Partial<EtcdClient>, onError?: (error: unknown) => void) => {
    const keyPrefix = `/cdn${++n}/weights/`;
    // The real client with one call replaced: the etcd round trips are real, only their timing or
    // outcome is steered.
    const persister = createWeightPersister({ client: Object.assign(Object.create(client) as EtcdClient, wrapped), keyPrefix, leaderId: 'wc-new', onError });
    persisters.push(persister);
    const read = async (): Promise<Map<string, PersistedWeight>> => {
      const { kvs } = await client.list(keyPrefix);
      return new Map(kvs.map((kv) => [kv.key.slice(keyPrefix.length), JSON.parse(Buffer.from(kv.value).toString('utf8')) as PersistedWeight]));
    };
    return { keyPrefix, persister, read };
  };

  it('reconciles on becoming leader without overwriting weights published while it read etcd', async () => {
    const listing = gate();
    const { keyPrefix, persister, read } = setup({
      async list(prefix, options) {
        await listing.opened;
        return client.list(prefix, options);
      },
    });
    // What the previous leader left: one node unchanged, one outdated, one no longer in the table.
    await client.put(`${keyPrefix}same`, JSON.stringify({ nodeId: 'same', weight: 800, health: 'up', updatedAtMs: 1, version: 7, leader: 'wc-old' }));
    await client.put(`${keyPrefix}moved`, JSON.stringify({ nodeId: 'moved', weight: 100, health: 'up', updatedAtMs: 1, version: 7, leader: 'wc-old' }));
    await client.put(`${keyPrefix}gone`, JSON.stringify({ nodeId: 'gone', weight: 100, health: 'up', updatedAtMs: 1, version: 7, leader: 'wc-old' }));
    const sameRevision = (await client.get(`${keyPrefix}same`))!.modRevision;

    // Leader at version 10; the reconcile's list is slow (a loaded etcd), and meanwhile versions 11
    // and 12 publish a newer weight for "moved" and a brand-new node.
    const reconciled = persister.reconcile([weight('same', 800), weight('moved', 500)], 10);
    persister.enqueue([weight('moved', 700)], 11);
    persister.enqueue([weight('added', 300)], 12);
    await waitFor(async () => (await read()).get('added')?.weight === 300, { message: 'the newer weights written' });
    listing.open();
    await reconciled;
    await persister.idle();

    const docs = await read();
    expect(docs.get('moved')).toMatchObject({ weight: 700, version: 11, leader: 'wc-new' });
    expect(docs.get('added')).toMatchObject({ weight: 300, version: 12 });
    expect(docs.has('gone')).toBe(false);
    expect(docs.get('same')).toMatchObject({ weight: 800, leader: 'wc-old' });
    expect((await client.get(`${keyPrefix}same`))!.modRevision).toBe(sameRevision);
  });

  it('retries a failed write only while no newer weight of the node has been written', async () => {
    let failNext = true;
    const failures: unknown[] = [];
    const { persister, read } = setup(
      {
        async put(key, value, options) {
          if (failNext) {
            failNext = false;
            throw new Error('injected: etcd unavailable');
          }
          return client.put(key, value, options);
        },
      },
      (error) => failures.push(error),
    );
    persister.enqueue([weight('flaky', 400), weight('steady', 900)], 1);
    await waitFor(() => failures.length === 1, { message: 'the injected failure' });
    // The first write failed and is due for a retry in 500 ms; a newer weight lands before that.
    persister.enqueue([weight('flaky', 0, Health.DOWN)], 2);
    await waitFor(async () => (await read()).get('flaky')?.health === 'down', { message: 'the newer weight written' });
    await new Promise((r) => setTimeout(r, 800));
    await persister.idle();
    const docs = await read();
    expect(docs.get('flaky')).toMatchObject({ weight: 0, health: 'down', version: 2 });
    expect(docs.get('steady')).toMatchObject({ weight: 900, version: 1 });
  });

  it('retries a failed write when nothing newer came', async () => {
    let failures = 0;
    const { persister, read } = setup({
      async put(key, value, options) {
        if (failures++ === 0) throw new Error('injected: etcd unavailable');
        return client.put(key, value, options);
      },
    });
    persister.enqueue([weight('flaky', 400)], 1);
    await waitFor(async () => (await read()).get('flaky')?.weight === 400, { timeoutMs: 10_000, message: 'the retried write' });
    expect(failures).toBe(2);
  });
});
