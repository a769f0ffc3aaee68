import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { ResolveRequestSchema, ResolveStreamResponseSchema, serviceDefinitions } from './index.js';

describe('createServiceDefinition', () => {
  it('derives wire paths and stream flags from the descriptors', () => {
    const r = serviceDefinitions.resolver;
    expect(r.resolve.path).toBe('/cdn.sched.v1.ResolverService/Resolve');
    expect([r.resolve.requestStream, r.resolve.responseStream]).toEqual([false, false]);
    expect([r.resolveStream.requestStream, r.resolveStream.responseStream]).toEqual([true, true]);
    expect(serviceDefinitions.configWatcher.watch.responseStream).toBe(true);
    expect(serviceDefinitions.configWatcher.watch.requestStream).toBe(false);
    expect(serviceDefinitions.weightCalculator.reportProbes.requestStream).toBe(true);
  });

  it('serialises init objects and messages alike and round-trips them', () => {
    const m = serviceDefinitions.resolver.resolve;
    const init = { queryId: 42n, clientIp: '1.0.8.1', domain: 'music.demo.example', answers: 2 };
    const fromInit = m.requestSerialize(init);
    const fromMessage = m.requestSerialize(create(ResolveRequestSchema, init));
    expect(fromInit).toEqual(fromMessage);
    const back = m.requestDeserialize(fromInit);
    expect(back.$typeName).toBe('cdn.sched.v1.ResolveRequest');
    expect(back.queryId).toBe(42n);
    expect(back.domain).toBe('music.demo.example');
  });

  it('round-trips a oneof inside a batch', () => {
    const m = serviceDefinitions.resolver.resolveStream;
    const bytes = m.responseSerialize({
      decisions: [
        { queryId: 1n, result: { case: 'error', value: { code: 3, message: 'client_ip: not an IP address' } } },
      ],
    });
    const back = m.responseDeserialize(bytes);
    expect(back.$typeName).toBe(ResolveStreamResponseSchema.typeName);
    const first = back.decisions[0];
    expect(first?.result.case).toBe('error');
    expect(first?.result.case === 'error' && first.result.value.message).toBe('client_ip: not an IP address');
  });
});
