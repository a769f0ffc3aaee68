import { create } from '@bufbuild/protobuf';
import { DecisionSchema, ResolveResponseSchema, serviceDefinitions, type ResolveStreamRequest } from '@cdn-sched/proto';
import { initTracing, shutdownTracing, useExplicitContext } from '@cdn-sched/telemetry';
import { startGrpcServer, type TestGrpcServer } from '@cdn-sched/testing';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAnswerCache } from './answer-cache.js';
import { createDecisionClient, type DecisionClient } from './decisions/decision-client.js';
import type { DecisionRecords } from './decision-records.js';
import { createZoneModel, type ApexSettings } from './dns/zone-model.js';
import { createQueryHandler } from './query-handler.js';

const apex: ApexSettings = { nsNames: ['ns1'], nsAddresses: [], soaRname: 'hostmaster', soaSerial: 1, soaRefreshS: 3600, soaRetryS: 600, soaExpireS: 86400, soaMinimumS: 30, apexTtlS: 3600 };
const zones = createZoneModel({ policies: [{ name: 'music.demo.example', consistent: false }], explicitZones: [], apex });

/** A real gRPC server speaking ResolveStream; it answers every query with edge `e1` and counts batches. */
function startResolver(batches: number[]): Promise<TestGrpcServer> {
  return startGrpcServer((s) =>
    s.add(serviceDefinitions.resolver, {
      resolve: () => Promise.reject(new Error('unused')),
      status: () => Promise.reject(new Error('unused')),
      async *resolveStream(requests: AsyncIterable<ResolveStreamRequest>) {
        for await (const batch of requests) {
          batches.push(batch.queries.length);
          yield {
            decisions: batch.queries.map((q) =>
              create(DecisionSchema, { queryId: q.queryId, result: { case: 'response', value: create(ResolveResponseSchema, { queryId: q.queryId, answers: [{ nodeId: 'e1', address: '127.0.0.11', ttlS: 30 }], ecsScope: 16 }) } }),
            ),
          };
        }
      },
    } as never),
  );
}

const query = (id: number, octet: number): Buffer =>
  dnsPacket.encode({
    id,
    type: 'query',
    questions: [{ type: 'A', name: 'music.demo.example' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 8, data: Buffer.from([0, 1, 24, 0, 1, 0, octet]) }] } as unknown as dnsPacket.Answer],
  });

describe('dns-gateway tracing over a real ResolveStream', () => {
  const exporter = new InMemorySpanExporter();
  beforeAll(() => {
    initTracing({ serviceName: 'dns-gateway-test', spanProcessors: [new SimpleSpanProcessor(exporter)], sampleRatio: 1 });
    // As the service runs (main.ts): span contexts handed on explicitly, no async context manager.
    useExplicitContext();
  });
  afterAll(() => shutdownTracing());
  let server: TestGrpcServer | undefined;
  let client: DecisionClient | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close(100);
    exporter.reset();
  });

  async function setup(traceRatio: number) {
    const batches: number[] = [];
    server = await startResolver(batches);
    client = createDecisionClient({ targets: [server.address], batchSize: 64, deadlineMs: 10_000 });
    const cache = createAnswerCache<DecisionRecords>({ staleMs: 0 });
    const handler = createQueryHandler({ zones: () => zones, apex, configVersion: () => 1, decisions: client, cache, maxUdpBytes: 1232, staleTtlS: 5, traceRatio });
    return { batches, handler };
  }

  it('gives each sampled query a cdn.dns.query span and its batch one cdn.dns.decision_batch span linked to all of them', async () => {
    const { batches, handler } = await setup(1);
    // Ten queries for ten different /24s in one event-loop turn: one batch, ten decisions.
    const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => handler.handle(query(i, i), { address: '192.0.2.1' }, 'udp')));
    expect(replies.map((r) => dnsPacket.decode(r as Buffer).answers![0]).map((a) => (a as { data: string }).data)).toEqual(new Array(10).fill('127.0.0.11'));
    expect(batches).toEqual([10]);

    const spans = exporter.getFinishedSpans();
    const queries = spans.filter((s) => s.name === 'cdn.dns.query');
    const batch = spans.filter((s) => s.name === 'cdn.dns.decision_batch');
    expect(queries).toHaveLength(10);
    expect(batch).toHaveLength(1);
    expect(queries[0]!.attributes).toMatchObject({ 'cdn.domain': 'music.demo.example', 'cdn.dns.cache': 'miss', 'cdn.dns.rcode': 0, 'cdn.dns.ecs_scope': 16, 'edge.selected_id': 'e1', 'network.transport': 'udp' });
    expect(new Set(queries.map((s) => s.attributes['cdn.dns.ecs_subnet']))).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `1.0.${i}.0/24`)));
    const b = batch[0]!;
    expect(b.attributes).toMatchObject({ 'cdn.batch_size': 10, 'cdn.dns.traced_queries': 10, 'server.address': server!.address });
    // Linked to every query span, and a child of the first (so it is sampled with it).
    expect(b.links.map((l) => l.context.spanId).sort()).toEqual(queries.map((q) => q.spanContext().spanId).sort());
    const parentId = b.parentSpanContext?.spanId;
    expect(queries.map((q) => q.spanContext().spanId)).toContain(parentId);
    expect(queries.find((q) => q.spanContext().spanId === parentId)!.spanContext().traceId).toBe(b.spanContext().traceId);

    // A repeat inside the decided scope is a cache hit: a query span, no batch.
    exporter.reset();
    await handler.handle(query(99, 3), { address: '192.0.2.1' }, 'udp');
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.attributes['cdn.dns.cache']])).toEqual([['cdn.dns.query', 'hit']]);
  });

  it('records no span at trace ratio 0', async () => {
    const { batches, handler } = await setup(0);
    await Promise.all(Array.from({ length: 20 }, (_, i) => handler.handle(query(i, i), { address: '192.0.2.1' }, 'udp')));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(20);
    expect(exporter.getFinishedSpans().filter((s) => s.name.startsWith('cdn.dns.'))).toEqual([]);
  });
});
