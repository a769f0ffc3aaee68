import { context, SpanKind, TraceFlags } from '@opentelemetry/api';
import { AlwaysOffSampler, AlwaysOnSampler, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createLinkAwareSampler } from './link-sampler.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const link = (traceFlags: TraceFlags) => ({ context: { traceId: TRACE, spanId: 'b7ad6b7169203331', traceFlags } });

describe('createLinkAwareSampler', () => {
  it('samples a span linked to a sampled span even when the ratio says no', () => {
    const sampler = createLinkAwareSampler(new AlwaysOffSampler());
    const decide = (links: ReturnType<typeof link>[]) => sampler.shouldSample(context.active(), TRACE, 'cdn.probes.ingest', SpanKind.CONSUMER, {}, links).decision;
    expect(decide([link(TraceFlags.NONE), link(TraceFlags.SAMPLED)])).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    // Unsampled links, or none: the fallback decides.
    expect(decide([link(TraceFlags.NONE)])).toBe(SamplingDecision.NOT_RECORD);
    expect(decide([])).toBe(SamplingDecision.NOT_RECORD);
  });

  it('leaves unlinked spans to the fallback', () => {
    const sampler = createLinkAwareSampler(new AlwaysOnSampler());
    expect(sampler.shouldSample(context.active(), TRACE, 'cdn.probe', SpanKind.CLIENT, {}, []).decision).toBe(SamplingDecision.RECORD_AND_SAMPLED);
    expect(sampler.toString()).toBe('LinkAware{AlwaysOnSampler}');
  });
});
