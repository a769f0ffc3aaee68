import { describe, expect, it } from 'vitest';
import { breakerProfiles } from './breaker-profiles.js';
import { deriveBreakerTimings } from './breaker-tuning.js';

describe('breaker profiles', () => {
  it('etcd: the default clamps', () => {
    expect(deriveBreakerTimings(10, breakerProfiles.etcd)).toEqual({ timeoutMs: 1000, resetTimeoutMs: 2000 });
    expect(deriveBreakerTimings(1000, breakerProfiles.etcd)).toEqual({ timeoutMs: 5000, resetTimeoutMs: 10_000 });
  });

  it('connect: at least 2 s to connect, back within 0.5-2 s', () => {
    expect(deriveBreakerTimings(10, breakerProfiles.connect)).toEqual({ timeoutMs: 2000, resetTimeoutMs: 500 });
    expect(deriveBreakerTimings(1000, breakerProfiles.connect)).toEqual({ timeoutMs: 5000, resetTimeoutMs: 1250 });
    expect(deriveBreakerTimings(10_000, breakerProfiles.connect).resetTimeoutMs).toBe(2000);
  });
});
