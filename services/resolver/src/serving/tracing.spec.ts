import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { initTracing, shutdownTracing } from '@cdn-sched/telemetry';
import { create, toBinary } from '@bufbuild/protobuf';
import { ResolveRequestSchema, Strategy, Tier } from '@cdn-sched/proto';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../decision/index.js';
import { makeDomain, makeNode } from '../decision/fixtures.js';
import { createResolveCore } from './resolve-core.js';
import { createResolverService, resolverServiceDefinition, type ResolveFrame } from './resolver-service.js';
import { createVersionTracing } from './version-tracing.js';
import type { ResolveBatch } from './wire-codec.js';

describe('resolver tracing', () => {
  const exporter = new InMemorySpanExporter();
  initTracing({ serviceName: 'resolver-test', spanProcessors: [new SimpleSpanProcessor(exporter)], sampleRatio: 1 });
  afterAll(() => shutdownTracing());

  const table = buildRoutingTable({
    nodes: [makeNode('gd-1', { region: 'CN-GD', isp: 'ct', pools: ['p'] }), makeNode('gd-2', { region: 'CN-GD', isp: 'ct', pools: ['p'] })],
    domains: [makeDomain('a.example', { pool: 'p', answers: 1, strategy: Strategy.WEIGHTED, fallback: [Tier.ISP_REGION, Tier.ANY] })],
    configVersion: 1n,
    weightsVersion: 0n,
  });
  const geo = {
    lookupV4: () => 0,
    prefixLenV4: () => 24,
    location: () => ({ country: 'CN', region: 'CN-GD', isp: 'ct' }),
    lookupAddress: () => 0,
    prefixLenOf: () => 24,
  };
  const core = createResolveCore({ table: () => table, geo: () => geo as never, stale: () => false });
  const state = {} as never;

  it('records a cdn.request span with the edge-selection attributes when sampled', async () => {
    const service = createResolverService({ core, state, instanceId: 't', traceRatio: 1 });
    await service.resolve({ queryId: 1n, clientIp: '1.0.8.1', ecsSubnet: '', domain: 'a.example', answers: 0 }, {} as never);
    const span = exporter.getFinishedSpans().find((s) => s.name === 'cdn.request');
    expect(span).toBeDefined();
    expect(span!.attributes).toMatchObject({
      'cdn.user_region': 'CN-GD',
      'cdn.isp': 'ct',
      'cdn.tier': 'isp+region',
      'edge.candidate_count': 2,
      'cdn.domain': 'a.example',
    });
    expect(['gd-1', 'gd-2']).toContain(span!.attributes['edge.selected_id']);
  });

  it('records nothing when the trace ratio is 0 (no cost on the hot path)', async () => {
    exporter.reset();
    const service = createResolverService({ core, state, instanceId: 't', traceRatio: 0 });
    for (let i = 0; i < 100; i++) {
      await service.resolve({ queryId: BigInt(i), clientIp: '1.0.8.1', ecsSubnet: '', domain: 'a.example', answers: 0 }, {} as never);
    }
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  const CONFIG_PRODUCER = '00-11111111111111111111111111111111-1111111111111111-01';
  const WEIGHTS_PRODUCER = '00-22222222222222222222222222222222-2222222222222222-01';
  const SENDER = '00-33333333333333333333333333333333-3333333333333333-01';
  const query = { queryId: 1n, clientIp: '1.0.8.1', ecsSubnet: '', domain: 'a.example', answers: 0 };
  async function stream(service: ReturnType<typeof createResolverService>, batch: ResolveBatch): Promise<void> {
    // The batch as the handler receives it from grpc-js: its bytes, decoded by the handler.
    const method = resolverServiceDefinition.resolveStream;
    async function* batches(): AsyncGenerator<ResolveFrame> {
      yield method.requestDeserialize(method.requestSerialize(batch));
    }
    for await (const reply of service.resolveStream(batches() as never, {} as never)) expect(reply.length).toBeGreaterThan(0);
  }

  it('traces a stream batch its sender sampled, even at ratio 0: a root linked to the sender and to the versions used', async () => {
    exporter.reset();
    const versionTracing = createVersionTracing();
    versionTracing.configApplied(1, CONFIG_PRODUCER, true);
    versionTracing.weightsApplied('wc@1', 0, WEIGHTS_PRODUCER, true);
    versionTracing.tableBuilt(table, 'wc@1');
    const service = createResolverService({ core, state: { table, versionTracing } as never, instanceId: 't', traceRatio: 0 });
    await stream(service, Object.assign([{ ...query }], { traceparent: SENDER }));

    const spans = exporter.getFinishedSpans();
    expect(spans.filter((s) => s.name === 'cdn.config.apply')[0]!.links.map((l) => l.context.spanId)).toEqual(['1111111111111111']);
    expect(spans.filter((s) => s.name === 'cdn.weights.apply')[0]!.links.map((l) => l.context.spanId)).toEqual(['2222222222222222']);
    const request = spans.find((s) => s.name === 'cdn.request')!;
    expect(request.parentSpanContext).toBeUndefined();
    expect(request.attributes).toMatchObject({ 'cdn.config.version': 1, 'cdn.weights.version': 0, 'cdn.batch_size': 1, 'cdn.domain': 'a.example' });
    expect(request.links.map((l) => [l.context.spanId, l.attributes])).toEqual([
      ['3333333333333333', undefined],
      ['1111111111111111', { 'cdn.config.version': 1 }],
      ['2222222222222222', { 'cdn.weights.version': 0 }],
    ]);
  });

  it('does not trace a batch whose sender did not sample it, at ratio 0', async () => {
    exporter.reset();
    const service = createResolverService({ core, state: { table, versionTracing: createVersionTracing() } as never, instanceId: 't', traceRatio: 0 });
    await stream(service, Object.assign([{ ...query }], { traceparent: SENDER.replace(/-01$/, '-00') }));
    await stream(service, [{ ...query }]);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it("traces a direct Resolve as the child of its caller's sampled traceparent, even at ratio 0; not an unsampled or absent one", () => {
    exporter.reset();
    const service = createResolverService({ core, state: { table, versionTracing: createVersionTracing() } as never, instanceId: 't', traceRatio: 0 });
    const withTraceparent = (value: string | undefined): Metadata => {
      const m = new Metadata();
      if (value !== undefined) m.set('traceparent', value);
      return m;
    };
    const request = () => resolverServiceDefinition.resolve.requestDeserialize(toBinary(ResolveRequestSchema, create(ResolveRequestSchema, query)));
    expect(service.directResolve.answer(request(), withTraceparent(SENDER.replace(/-01$/, '-00'))).ok).toBe(true);
    expect(service.directResolve.answer(request(), withTraceparent(undefined)).ok).toBe(true);
    expect(service.directResolve.answer(request(), withTraceparent('not a traceparent')).ok).toBe(true);
    expect(exporter.getFinishedSpans()).toHaveLength(0);

    expect(service.directResolve.answer(request(), withTraceparent(SENDER)).ok).toBe(true);
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['cdn.request']);
    expect(spans[0]!.spanContext().traceId).toBe('33333333333333333333333333333333');
    expect(spans[0]!.parentSpanContext?.spanId).toBe('3333333333333333');
    expect(spans[0]!.attributes).toMatchObject({ 'cdn.domain': 'a.example', 'cdn.user_region': 'CN-GD' });
  });
});
