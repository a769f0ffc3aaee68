import { describe, expect, it } from 'vitest';
import { createUpstreams, describeUpstream, type UpstreamState } from './upstreams.js';

const fresh: UpstreamState = { connected: true, version: 7, epoch: 'e1', stalenessMs: 800, stale: false, lastError: undefined };

describe('upstream registry', () => {
  it('words every upstream trouble the same way: name, target, stale or unreachable, age, error, what the service does', () => {
    const spec = { name: 'config-watcher', target: () => '10.0.0.1:50051', meanwhile: 'answering from last-known-good state', state: () => fresh };
    expect(describeUpstream(spec)).toBeUndefined();
    expect(describeUpstream(spec, { ...fresh, stale: true, stalenessMs: 12_400 })).toBe('config-watcher 10.0.0.1:50051 stale for 12 s; answering from last-known-good state');
    expect(describeUpstream(spec, { ...fresh, stale: true, connected: false, stalenessMs: 3_600, lastError: 'ECONNREFUSED' })).toBe(
      'config-watcher 10.0.0.1:50051 unreachable for 4 s (ECONNREFUSED); answering from last-known-good state',
    );
    // Never confirmed: no age to give.
    expect(describeUpstream(spec, { ...fresh, version: 0, stale: true, connected: false, stalenessMs: Infinity, lastError: undefined })).toBe(
      'config-watcher 10.0.0.1:50051 unreachable; answering from last-known-good state',
    );
    expect(describeUpstream({ ...spec, requiredForReady: 'configuration' }, { ...fresh, version: 0, stale: true, stalenessMs: Infinity, lastError: 'deadline exceeded' })).toBe(
      'no configuration from config-watcher 10.0.0.1:50051 yet (deadline exceeded)',
    );
  });

  it('is not ready until every required upstream delivered a version; stale upstreams are reasons, in registration order', () => {
    let config: UpstreamState = { ...fresh, version: 0, stale: true, stalenessMs: Infinity };
    let weights: UpstreamState = { ...fresh, version: 0, stale: true, connected: false, stalenessMs: Infinity };
    const upstreams = createUpstreams();
    upstreams.add({ name: 'config-watcher', target: () => 'a:1', meanwhile: 'answering from last-known-good state', requiredForReady: 'configuration', state: () => config });
    upstreams.add({ name: 'weight-calculator', target: () => 'b:2', meanwhile: 'answering from last-known-good state', state: () => weights });
    expect(upstreams.readiness()).toEqual({ ready: false, reasons: ['no configuration from config-watcher a:1 yet', 'weight-calculator b:2 unreachable; answering from last-known-good state'] });
    expect(upstreams.degraded()).toBe(true);

    config = fresh;
    expect(upstreams.readiness(['not registered'])).toEqual({ ready: true, reasons: ['weight-calculator b:2 unreachable; answering from last-known-good state', 'not registered'] });
    weights = { ...fresh, version: 3 };
    expect(upstreams.readiness()).toEqual({ ready: true, reasons: [] });
    expect(upstreams.degraded()).toBe(false);
  });

  it('lists upstreams as Status streams, with a finite staleness and the current target', () => {
    let target = 'b:2';
    const upstreams = createUpstreams();
    upstreams.add({ name: 'config-watcher', target: () => 'a:1', meanwhile: 'x', state: () => ({ ...fresh, stalenessMs: 1234.6 }) });
    upstreams.add({ name: 'weight-calculator', target: () => target, meanwhile: 'x', state: () => ({ ...fresh, version: 0, epoch: undefined, stale: true, stalenessMs: Infinity }) });
    target = 'c:3';
    const streams = upstreams.streams();
    expect(streams.map((s) => [s.name, s.target, s.version, s.epoch, s.stalenessMs, s.stale, s.connected])).toEqual([
      ['config-watcher', 'a:1', 7n, 'e1', 1235n, false, true],
      ['weight-calculator', 'c:3', 0n, '', 0n, true, true],
    ]);
  });

  it('refuses a name registered twice (their gauges would overwrite each other)', () => {
    const upstreams = createUpstreams();
    upstreams.add({ name: 'etcd', target: () => 'e', meanwhile: 'x', state: () => fresh });
    expect(() => upstreams.add({ name: 'etcd', target: () => 'f', meanwhile: 'y', state: () => fresh })).toThrow('upstream etcd is registered twice');
  });
});
