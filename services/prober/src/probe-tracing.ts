import type { ProbeResult } from '@cdn-sched/proto';
import { SpanAttributes, SpanNames, sampledLinks, traceparentOf } from '@cdn-sched/telemetry';
import { ROOT_CONTEXT, SpanKind, trace, type SpanContext } from '@opentelemetry/api';
import { probeClassName } from './probing/index.js';

const tracer = trace.getTracer('cdn-sched.prober');

/**
 * Span bookkeeping of the prober: one `cdn.probe` span per probe, a trace root sampled by the
 * process's ratio (OTEL_TRACES_SAMPLER_ARG), and one `cdn.probe.report` span per ReportProbes batch
 * that holds a sampled probe, linked to those probes. The batch span's traceparent goes in the
 * batch, so the weight-calculator's ingest span can link to it.
 */
export interface ProbeTracing {
  /** Records the probe's span (from its start to now) and remembers its context for the batch. */
  probed(result: ProbeResult, type: string): void;
  /**
   * Starts and ends the batch span when a result in it was sampled; returns its traceparent, or
   * `''` (nothing sampled: no span, nothing on the wire).
   */
  batch(results: readonly ProbeResult[], proberId: string, target: string): string;
}

/** {@link ProbeTracing} over the global tracer provider. */
export function createProbeTracing(): ProbeTracing {
  // Keyed by the result object: it is what the reporters carry, and it is dropped with it.
  const contexts = new WeakMap<ProbeResult, SpanContext>();
  return {
    probed(result, type) {
      const span = tracer.startSpan(SpanNames.probe, {
        kind: SpanKind.CLIENT,
        startTime: Number(result.startedAtMs),
        attributes: {
          [SpanAttributes.nodeId]: result.nodeId,
          [SpanAttributes.probeType]: type,
          // The class names ProbeStatus shows: `up`, `timeout`, `refused`, ...
          [SpanAttributes.probeOutcome]: probeClassName(result.errorClass),
          [SpanAttributes.probeRttMs]: result.totalMs,
        },
        // A root: whatever context the scheduler's callback runs in is not this probe's cause.
      }, ROOT_CONTEXT);
      // Unsampled: nothing is kept (the span is a no-op), so probing costs nothing more untraced.
      if (!span.isRecording()) return;
      if (result.statusCode > 0) span.setAttribute('http.response.status_code', result.statusCode);
      contexts.set(result, span.spanContext());
      span.end();
    },
    batch(results, proberId, target) {
      const links = sampledLinks(results.map((r) => contexts.get(r)));
      if (links.length === 0) return '';
      const span = tracer.startSpan(SpanNames.probeReport, {
        kind: SpanKind.PRODUCER,
        links,
        attributes: { [SpanAttributes.proberId]: proberId, [SpanAttributes.batchSize]: results.length, 'server.address': target },
        // A root linked to its probes, not a child of the stream-long ReportProbes call span.
      }, ROOT_CONTEXT);
      const traceparent = traceparentOf(span);
      span.end();
      return traceparent;
    },
  };
}
