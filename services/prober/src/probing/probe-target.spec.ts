import { create } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, ProbeSpecSchema, ProbeType } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { effectiveProbe, isProbed, probeTargetOf, sameEndpoint, type ProbeTarget } from './probe-target.js';

const base: ProbeTarget = { nodeId: 'n1', address: '192.0.2.1', port: 8080, state: NodeState.ACTIVE };

describe('effectiveProbe', () => {
  it('fills what the document leaves unset (0 and empty) from the defaults, then the built-ins', () => {
    expect(effectiveProbe(base)).toEqual({ type: 'http', address: '192.0.2.1', port: 8080, path: '/health', intervalMs: 5000, timeoutMs: 2000 });
    expect(effectiveProbe(base, { intervalMs: 1000, timeoutMs: 300, path: '/hc', type: 'tcp' })).toMatchObject({
      type: 'tcp',
      path: '',
      intervalMs: 1000,
      timeoutMs: 300,
    });
    const spec = create(ProbeSpecSchema, { type: ProbeType.HTTP, path: '/edge/health', port: 9000, intervalMs: 2500, timeoutMs: 0 });
    expect(effectiveProbe({ ...base, probe: spec }, { timeoutMs: 700, type: 'tcp' })).toEqual({
      type: 'http',
      address: '192.0.2.1',
      port: 9000,
      path: '/edge/health',
      intervalMs: 2500,
      timeoutMs: 700,
    });
  });

  it('tells an endpoint change from a timing change', () => {
    const a = effectiveProbe(base);
    expect(sameEndpoint(a, effectiveProbe({ ...base, probe: { intervalMs: 1 } }))).toBe(true);
    expect(sameEndpoint(a, effectiveProbe({ ...base, probe: { path: '/x' } }))).toBe(false);
    expect(sameEndpoint(a, effectiveProbe({ ...base, probe: { type: ProbeType.TCP } }))).toBe(false);
    expect(sameEndpoint(a, effectiveProbe({ ...base, port: 1 }))).toBe(false);
  });

  it('probes active and draining nodes, not those in maintenance, and reads node documents', () => {
    expect([NodeState.ACTIVE, NodeState.DRAIN, NodeState.MAINTENANCE, NodeState.UNSPECIFIED].map(isProbed)).toEqual([true, true, false, true]);
    const node = create(NodeSchema, { id: 'n9', address: '::1', port: 443, state: NodeState.DRAIN });
    expect(probeTargetOf(node)).toEqual({ nodeId: 'n9', address: '::1', port: 443, probe: undefined, state: NodeState.DRAIN });
  });
});
