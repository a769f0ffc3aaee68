import { create, toBinary } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, serviceDefinitions, UpstreamHealthSchema, WatchResponseSchema, type WatchResponse } from '@cdn-sched/proto';
import { createTransport } from '@cdn-sched/transport';
import { createServer } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { createConfigConsumer, createConfigEncoder, createVersionedStore, nodeEntryKey, serveVersionedStream, type ConfigEntry } from './index.js';

const FLEET = 250_000;
const node = (i: number, generation = 0) =>
  create(NodeSchema, {
    id: `edge-${String(i).padStart(6, '0')}`,
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    port: 443,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacityRps: 1000 + generation,
    state: NodeState.ACTIVE,
    pools: ['music', 'video'],
  });
const entry = (i: number, generation = 0): [string, ConfigEntry] => [nodeEntryKey(node(i, generation).id), { kind: 'node', node: node(i, generation) }];

describe('chunked config snapshots through default gRPC limits (real grpc-js)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  it('a 250 k-node snapshot and a 60 k-change delta reach a consumer, each applied once, atomically', async () => {
    const store = createVersionedStore<ConfigEntry>();
    store.reset(10, Array.from({ length: FLEET }, (_, i) => entry(i)));
    const upstream = () => create(UpstreamHealthSchema, { healthy: true });
    const encoder = createConfigEncoder('epoch-1', upstream);

    // Without chunks the snapshot would be one message far past grpc's 4 MiB default.
    const chunks = encoder.snapshot(store.version, store.entries, 'first connect') as readonly WatchResponse[];
    // (Encoding three chunks is enough to know the sizes: every chunk holds nodes of the same shape.)
    const sizes = [chunks[0]!, chunks[1]!, chunks[chunks.length - 1]!].map((c) => toBinary(WatchResponseSchema, c).length);
    expect(sizes[0]! * (chunks.length - 1)).toBeGreaterThan(4 * 4 * 1024 * 1024);
    expect(Math.max(...sizes)).toBeLessThan(1.25 * 1024 * 1024);
    expect(chunks.map((c) => c.kind.case === 'snapshot' && c.kind.value.more)).toEqual(chunks.map((_, i) => i < chunks.length - 1));

    const transport = createTransport(); // default limits on both sides
    const server = createServer(transport.serverOptions as Parameters<typeof createServer>[0]);
    server.add(serviceDefinitions.configWatcher, {
      async *watch(request, context) {
        yield* serveVersionedStream({ store, request: { epoch: request.epoch, version: Number(request.version) }, encoder, signal: context.signal, versionsGlobal: true, progressIntervalMs: 60_000, maxDeltaChanges: 100_000 });
      },
      async status() {
        return {};
      },
    });
    const port = await server.listen('127.0.0.1:0', transport.serverCredentials);
    cleanup.push(() => server.forceShutdown());

    const applied: { snapshot: boolean; version: number; changes: number; size: number }[] = [];
    const consumer = createConfigConsumer({
      target: `127.0.0.1:${port}`,
      consumerId: 'test',
      transport,
      onApplied: (u, entries) => applied.push({ snapshot: u.snapshot, version: u.version, changes: u.changes.length, size: entries.size }),
    });
    cleanup.push(() => consumer.close());
    await consumer.ready(AbortSignal.timeout(60_000));
    expect(applied).toEqual([{ snapshot: true, version: 10, changes: FLEET, size: FLEET }]);

    // A bulk change of 60 k nodes: one delta, in chunks, applied at once.
    store.commit(11, Array.from({ length: 60_000 }, (_, i) => ({ key: entry(i, 1)[0], value: entry(i, 1)[1] })));
    const until = Date.now() + 60_000;
    while (consumer.state.version !== 11 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(applied.slice(1)).toEqual([{ snapshot: false, version: 11, changes: 60_000, size: FLEET }]);
    const e = consumer.entries.get(nodeEntryKey('edge-059999'));
    expect(e?.kind === 'node' && e.node.capacityRps).toBe(1001);
  }, 300_000);
});
