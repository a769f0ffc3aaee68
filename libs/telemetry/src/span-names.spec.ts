import { describe, expect, it } from 'vitest';
import { SpanAttributes, SpanNames } from './span-names.js';

describe('span names and attribute keys', () => {
  it('are the names of the design, which dashboards and trace queries depend on', () => {
    expect(SpanNames).toEqual({
      request: 'cdn.request',
      edgeSelect: 'cdn.edge.select',
      originHealth: 'cdn.origin.health',
      configApply: 'cdn.config.apply',
      weightsApply: 'cdn.weights.apply',
      probe: 'cdn.probe',
      probeReport: 'cdn.probe.report',
      probesIngest: 'cdn.probes.ingest',
      weightsPublish: 'cdn.weights.publish',
      configPublish: 'cdn.config.publish',
      configWrite: 'cdn.config.write',
      dnsQuery: 'cdn.dns.query',
      dnsDecisionBatch: 'cdn.dns.decision_batch',
    });
    expect(SpanAttributes).toMatchObject({
      userRegion: 'cdn.user_region',
      isp: 'cdn.isp',
      candidateCount: 'edge.candidate_count',
      selectedId: 'edge.selected_id',
      tier: 'cdn.tier',
    });
  });

  it('are unique and namespaced under cdn. or edge.', () => {
    const keys = Object.values(SpanAttributes);
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of [...keys, ...Object.values(SpanNames)]) expect(key).toMatch(/^(cdn|edge)\.[a-z_.]+$/);
  });
});
