// Benchmark of issue 3: propagation latency from an etcd put to a Watch client applying it, next to
// the raw etcd watch latency measured on the same puts, and the number of clients one instance
// serves a 10 k-node snapshot to within 1 s. Prints one JSON line per figure.
import { createEtcdClient, watchPrefix } from '@cdn-sched/etcd';
import { serviceDefinitions } from '@cdn-sched/proto';
import { startEtcd, startGrpcServer } from '@cdn-sched/testing';
import { createChannel, createClient } from 'nice-grpc';
import { createConfigWatcher } from '../config-watcher.js';
import { emit, nodeDocument, quantile, startArrivalRecorder } from './bench-support.js';

const PUTS = Number(process.env['BENCH_PUTS'] ?? 1000);

const etcd = await startEtcd();
const client = createEtcdClient({ endpoints: [etcd.endpoint] });
const prefix = '/cdn/';
const watcher = createConfigWatcher({ client, instanceId: 'bench', prefix, progressIntervalMs: 1000 });
const server = await startGrpcServer((s) => s.add(serviceDefinitions.configWatcher, watcher.service));
await watcher.ready();

// 1. Propagation: sequential puts, each awaited by a raw etcd watcher and by a Watch client.
const rawArrivals = new Map<number, number>();
const ac = new AbortController();
const direct = createEtcdClient({ endpoints: [etcd.endpoint] });
const startRev = (await direct.revision()) + 1;
void (async () => {
  for await (const batch of watchPrefix(direct, { prefix: `${prefix}nodes/`, startRevision: startRev, signal: ac.signal })) {
    const t = performance.now();
    for (const e of batch.events) rawArrivals.set(Number(JSON.parse(Buffer.from(e.kv.value).toString()).capacity), t);
  }
})().catch(() => undefined);
const { consumer, applied: appliedArrivals } = await startArrivalRecorder(server.address);
const raw: number[] = [];
const viaWatcher: number[] = [];
const added: number[] = [];
for (let i = 1; i <= PUTS; i++) {
  const t0 = performance.now();
  await client.put(`${prefix}nodes/p`, nodeDocument('p', i));
  while (!rawArrivals.has(i) || !appliedArrivals.has(i)) await new Promise((r) => setImmediate(r));
  raw.push(rawArrivals.get(i)! - t0);
  viaWatcher.push(appliedArrivals.get(i)! - t0);
  added.push(appliedArrivals.get(i)! - rawArrivals.get(i)!);
}
ac.abort();
emit('raw etcd watch latency p50', quantile(raw, 0.5), 'ms', { samples: PUTS });
emit('raw etcd watch latency p99', quantile(raw, 0.99), 'ms', { samples: PUTS });
emit('put -> Watch client applied p50', quantile(viaWatcher, 0.5), 'ms', { baseline: quantile(raw, 0.5) });
emit('put -> Watch client applied p99', quantile(viaWatcher, 0.99), 'ms', { baseline: quantile(raw, 0.99) });
emit('added by config-watcher p99', quantile(added, 0.99), 'ms', { target: '<= 5 ms' });
await consumer.close();

// 2. Fan-out of a 10 k-node snapshot: how many clients get it within 1 s.
for (let i = 0; i < 10_000; i += 200) {
  await Promise.all(Array.from({ length: 200 }, (_, j) => client.put(`${prefix}nodes/n${i + j}`, nodeDocument(`n${i + j}`))));
}
while (watcher.store.entries.size < 10_001) await new Promise((r) => setTimeout(r, 20));
const channel = createChannel(server.address, undefined, { 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
// The fan-out clients share this process with the server: they take the first message (the
// snapshot) as bytes, so the figure is the server's fan-out and the transport, not 20 decodes of
// 10 k nodes competing with the server for the same core.
const rawWatch = { watch: { ...serviceDefinitions.configWatcher.watch, responseDeserialize: (bytes: Uint8Array) => bytes } };
const raw2 = createClient(rawWatch, channel);
let snapshotBytes = 0;
const fanOut = async (clients: number): Promise<number> => {
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const abort = new AbortController();
      try {
        for await (const bytes of raw2.watch({ consumerId: 'fan' }, { signal: abort.signal })) {
          snapshotBytes = bytes.length;
          abort.abort();
        }
      } catch {
        // aborted after the snapshot
      }
    }),
  );
  return performance.now() - t0;
};
let best = 0;
for (const n of [1, 2, 5, 10, 20, 40, 80, 160]) {
  const ms = await fanOut(n);
  emit(`10k-node snapshot to ${n} clients`, ms, 'ms');
  if (ms <= 1000) best = n;
  else break;
}
emit('clients served a 10k-node snapshot within 1 s', best, 'clients', { target: 'report' });
emit('10k-node snapshot size', snapshotBytes / 1024, 'KiB');
channel.close();
await server.close();
await watcher.close();
client.close();
direct.close();
await etcd.stop();
