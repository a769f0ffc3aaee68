import { describe, expect, it } from 'vitest';
import { breakerProfiles } from './breaker-profiles.js';
import { deriveBreakerTimings } from './breaker-tuning.js';

describe('breaker profiles', () => {
  it('etcd: the default clamps', () => {
    expect(deriveBreakerTimings(10, breakerProfiles.etcd)).toEqual({ timeoutMs: 1000, resetTimeoutMs: 2000 });
    expect(deriveBreakerTimings(1000, breakerProfiles.etcd)).toEqual({ timeoutMs: 5000, resetTimeoutMs: 10_000 });
  });

  it('connect: a fixed connect bound from the caller, whatever etcd latency says; back within 0.5-2 s', () => {
    // How the stream consumers and the prober's reporter use it: the bound is both floor and ceiling.
    const bounded = (ms: number) => ({ ...breakerProfiles.connect, timeoutFloorMs: ms, timeoutCeilingMs: ms });
    expect(deriveBreakerTimings(Number.NaN, bounded(5000))).toEqual({ timeoutMs: 5000, resetTimeoutMs: 1250 });
    expect(deriveBreakerTimings(10_000, bounded(5000))).toEqual({ timeoutMs: 5000, resetTimeoutMs: 1250 });
    expect(deriveBreakerTimings(Number.NaN, bounded(1000))).toEqual({ timeoutMs: 1000, resetTimeoutMs: 500 });
    expect(deriveBreakerTimings(Number.NaN, bounded(20_000)).resetTimeoutMs).toBe(2000);
  });
});
