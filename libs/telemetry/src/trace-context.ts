import { isSpanContextValid, TraceFlags, type Link, type Span, type SpanContext } from '@opentelemetry/api';

/**
 * W3C Trace Context `traceparent` values (https://www.w3.org/TR/trace-context/#traceparent-header),
 * carried in a field of each streamed batch or version: a stream lives for hours, and gRPC metadata
 * (what the gRPC instrumentation propagates) travels once, when it opens. The receiver of a batch
 * starts its own span and links it to the sender's (the OpenTelemetry pattern for batches), so no
 * span lasts as long as the stream.
 */

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The `traceparent` value of a span context (version 00). */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * The span context of a `traceparent` value, marked remote; `undefined` for an empty string or a
 * value that is not version 00 with non-zero lower-case hex ids (the specification says to ignore
 * such a header rather than fail the request, §3.2.2.3 and §3.2.2.4).
 */
export function parseTraceparent(value: string | undefined): SpanContext | undefined {
  if (!value) return undefined;
  const m = TRACEPARENT.exec(value);
  if (!m) return undefined;
  const context: SpanContext = { traceId: m[1]!, spanId: m[2]!, traceFlags: Number.parseInt(m[3]!, 16), isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

/** True when the context's sampled flag is set. */
export function isSampledContext(context: SpanContext | undefined): context is SpanContext {
  return context !== undefined && (context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}

/** The `traceparent` of a span when it is recorded (sampled), else `''` (the proto default: not traced). */
export function traceparentOf(span: Span | undefined): string {
  if (span === undefined || !span.isRecording()) return '';
  return formatTraceparent(span.spanContext());
}

/** Links to the sampled contexts among `contexts`, at most `max` (a span with thousands of links helps nobody). */
export function sampledLinks(contexts: Iterable<SpanContext | undefined>, max = 64): Link[] {
  const links: Link[] = [];
  for (const context of contexts) {
    if (!isSampledContext(context)) continue;
    links.push({ context });
    if (links.length >= max) break;
  }
  return links;
}

/**
 * A bounded record of which span produced which version, for linking to the version in use. A
 * version is a number where numbers name one version, or a string key where they do not (a
 * stream whose versions restart per epoch: "<epoch>/<version>").
 */
export interface VersionTraces {
  /** Records the span context of `version` (ignored when undefined). */
  set(version: number | bigint | string, context: SpanContext | undefined): void;
  /** The span context recorded for `version`, if still held. */
  get(version: number | bigint | string): SpanContext | undefined;
}

/** {@link VersionTraces} holding the latest `capacity` versions. Defaults to 64. */
export function createVersionTraces(capacity = 64): VersionTraces {
  const byVersion = new Map<string, SpanContext>();
  return {
    set(version, context) {
      if (context === undefined) return;
      const key = String(version);
      byVersion.delete(key);
      byVersion.set(key, context);
      if (byVersion.size > capacity) byVersion.delete(byVersion.keys().next().value!);
    },
    get: (version) => byVersion.get(String(version)),
  };
}
