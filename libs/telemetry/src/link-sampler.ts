import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import { SamplingDecision, type Sampler, type SamplingResult } from '@opentelemetry/sdk-trace-base';
import { isSampledContext } from './trace-context.js';

/**
 * Root sampler that keeps a span linked to a sampled span, and otherwise asks `fallback` (the ratio
 * sampler). The batch spans of the mesh are trace roots linked to the batches they came from (see
 * trace-context.ts); without this rule a prober's sampled probe would reach the weight-calculator and
 * be dropped there by an independent coin toss, and the chain probe → weights → decision would break
 * at every hop with probability 1 − ratio. Links are part of the sampler's input for this purpose
 * (OpenTelemetry trace SDK specification, "ShouldSample": "Collection of links that will be
 * associated with the Span to be created").
 */
export function createLinkAwareSampler(fallback: Sampler): Sampler {
  return {
    shouldSample(context: Context, traceId: string, spanName: string, spanKind: SpanKind, attributes: Attributes, links: Link[]): SamplingResult {
      for (const link of links) if (isSampledContext(link.context)) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
      return fallback.shouldSample(context, traceId, spanName, spanKind, attributes, links);
    },
    toString: () => `LinkAware{${fallback.toString()}}`,
  };
}
