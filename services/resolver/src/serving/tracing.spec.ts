import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { initTracing, shutdownTracing } from '@cdn-sched/telemetry';
import { Strategy, Tier } from '@cdn-sched/proto';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../decision/index.js';
import { makeDomain, makeNode } from '../decision/fixtures.js';
import { createResolveCore } from './resolve-core.js';
import { createResolverService } from './resolver-service.js';

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
});
