import { writerTraceKey } from '@cdn-sched/documents';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { serviceDefinitions } from '@cdn-sched/proto';
import { createConfigConsumer, type AppliedUpdate, type ConfigEntry, type StreamConsumer } from '@cdn-sched/stream';
import { formatTraceparent, initTracing, shutdownTracing } from '@cdn-sched/telemetry';
import { startEtcd, startGrpcServer, waitFor, type EtcdProcess, type TestGrpcServer } from '@cdn-sched/testing';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConfigWatcher, type ConfigWatcher } from './index.js';

const PREFIX = '/cdn-traces/';
const node = (id: string) => JSON.stringify({ id, address: '127.0.0.1', port: 8080, country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000, state: 'active', pools: ['music'] });
const domain = (fqdn: string) => JSON.stringify({ domain: fqdn, pool: 'music', answers: 2, ttl: 30, strategy: 'weighted', fallback: ['isp+region', 'any'] });

describe('config-watcher publish spans (real etcd, real gRPC, in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  initTracing({ serviceName: 'config-watcher-test', spanProcessors: [new SimpleSpanProcessor(exporter)], sampleRatio: 1 });
  let etcd: EtcdProcess;
  let client: EtcdClient;
  let watcher: ConfigWatcher;
  let server: TestGrpcServer;
  let consumer: StreamConsumer<ConfigEntry>;
  let startRevision: number;
  let listedVersion: number;
  const applied: Pick<AppliedUpdate<ConfigEntry>, 'snapshot' | 'version' | 'traceparent'>[] = [];

  const publishOf = (version: number): ReadableSpan | undefined =>
    exporter.getFinishedSpans().find((s) => s.name === 'cdn.config.publish' && s.attributes['cdn.config.version'] === version);

  beforeAll(async () => {
    etcd = await startEtcd();
    client = createEtcdClient({ endpoints: [etcd.endpoint] });
    // The configuration exists before the config-watcher starts: its first version is the startup list.
    await client.put(`${PREFIX}nodes/a`, node('a'));
    startRevision = await client.put(`${PREFIX}domains/music.example.com`, domain('music.example.com'));
    watcher = createConfigWatcher({ client, instanceId: 'cw-traces', prefix: PREFIX, progressIntervalMs: 100, heartbeatIntervalMs: 200 });
    await watcher.ready();
    // The list's revision: etcd's at the time of the list (the watcher's own heartbeat puts may follow the documents).
    listedVersion = watcher.store.version;
    server = await startGrpcServer((s) => s.add(serviceDefinitions.configWatcher, watcher.service));
    consumer = createConfigConsumer({
      target: server.address,
      consumerId: 'test',
      backoff: { baseMs: 20, maxMs: 200 },
      onApplied: ({ snapshot, version, traceparent }) => void applied.push({ snapshot, version, traceparent }),
    });
  }, 60_000);

  afterAll(async () => {
    await consumer?.close();
    await server?.close();
    await watcher?.close();
    client?.close();
    await etcd?.stop();
    await shutdownTracing();
  }, 30_000);

  it('publishes the startup list as a version with its own span, whose traceparent comes with the snapshot', async () => {
    await waitFor(() => applied.length > 0, { timeoutMs: 20_000, message: 'the first snapshot' });
    expect(listedVersion).toBeGreaterThanOrEqual(startRevision);
    expect(applied[0]).toMatchObject({ snapshot: true, version: listedVersion });
    const publish = publishOf(listedVersion);
    expect(publish).toBeDefined();
    expect(publish!.attributes).toMatchObject({ 'cdn.snapshot': true, 'cdn.batch_size': 2 });
    expect(publish!.parentSpanContext).toBeUndefined();
    expect(applied[0]!.traceparent).toBe(formatTraceparent(publish!.spanContext()));
  });

  it("links a version to the span of the writer whose transaction made it (the writer's traceparent key in the same transaction)", async () => {
    const writer = trace.getTracer('test').startSpan('cdnctl node put');
    const writerContext = writer.spanContext();
    writer.end();
    const response = await client.etcd.kv.txn({
      success: [
        { request_put: { key: Buffer.from(`${PREFIX}nodes/b`), value: Buffer.from(node('b')) } },
        { request_put: { key: Buffer.from(writerTraceKey(PREFIX, 'cdnctl')), value: Buffer.from(formatTraceparent(writerContext)) } },
      ],
    });
    const revision = Number(response.header.revision);
    await waitFor(() => applied.some((a) => a.version === revision), { timeoutMs: 20_000, message: `version ${revision} applied` });
    const publish = publishOf(revision)!;
    expect(publish.attributes).toMatchObject({ 'cdn.snapshot': false, 'cdn.batch_size': 1 });
    expect(publish.links.map((l) => [l.context.traceId, l.context.spanId])).toEqual([[writerContext.traceId, writerContext.spanId]]);
    expect(applied.find((a) => a.version === revision)!.traceparent).toBe(formatTraceparent(publish.spanContext()));
    // The writer's key is not a document: the consumer holds nodes a and b and the domain only.
    expect([...consumer.entries.keys()].sort()).toEqual(['domain/music.example.com', 'node/a', 'node/b']);
  });
});
