import { create } from '@bufbuild/protobuf';
import { UpstreamHealthSchema } from '@cdn-sched/proto';
import { describe, expect, it } from 'vitest';
import { createConfigEncoder, decodeConfigMessage } from './config-codec.js';
import { decodeProgress, encodeProgress } from './progress.js';
import { createWeightsEncoder, decodeWeightsMessage } from './weights-codec.js';

const upstream = create(UpstreamHealthSchema, { healthy: false, reason: 'etcd unreachable', stalenessMs: 4200n, watchLatencyP99Ms: 3.5 });

describe('progress', () => {
  it('round-trips version and upstream health', () => {
    const before = Date.now();
    const p = encodeProgress(42, upstream);
    expect(Number(p.serverTimeMs)).toBeGreaterThanOrEqual(before);
    expect(decodeProgress('e1', p)).toEqual({ kind: 'progress', epoch: 'e1', version: 42, watchLatencyP99Ms: 3.5, upstreamHealthy: false, upstreamStalenessMs: 4200 });
  });

  it('is decoded the same from both streams', () => {
    const fromConfig = decodeConfigMessage(createConfigEncoder('c', () => upstream).progress(7));
    const fromWeights = decodeWeightsMessage(createWeightsEncoder('w', () => upstream).progress(7));
    expect({ ...fromConfig, epoch: '' }).toEqual({ ...fromWeights, epoch: '' });
    expect(fromConfig).toMatchObject({ kind: 'progress', epoch: 'c', version: 7, upstreamStalenessMs: 4200 });
  });
});
