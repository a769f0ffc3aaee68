import { writerTraceKey } from '@cdn-sched/documents';
import { initTracing, shutdownTracing, SpanAttributes, SpanNames, traceparentOf } from '@cdn-sched/telemetry';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

/** The writer name of cdnctl's traceparent key (`<prefix>traces/cdnctl`). */
const WRITER = 'cdnctl';

/** What a traced write hands its transaction. */
export interface WriteTrace {
  /**
   * The key and value to put in the write's transaction when the write is traced (its span is
   * sampled), else undefined: an untraced write is the same transaction as before, and needs no
   * permission beyond the documents.
   */
  readonly put: { key: string; value: string } | undefined;
  /** The write's span, to record the revision it made. */
  readonly span: Span;
}

/**
 * Runs one configuration write under a `cdn.config.write` span (a root, kind producer: its consumer
 * is the config-watcher). The span's W3C traceparent (https://www.w3.org/TR/trace-context/) goes
 * under `<prefix>traces/cdnctl` in the same etcd transaction as the documents, and the
 * config-watcher's `cdn.config.publish` span for the version that holds the write links to it
 * (libs/documents/src/document-keys.ts, `writerTracesPrefix`).
 *
 * Tracing follows the OpenTelemetry variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER_ARG,
 * OTEL_SDK_DISABLED, ...; `service.name` defaults to "cdnctl"); without an endpoint nothing is
 * sampled. Pending spans are flushed before this returns: the CLI exits right after a command.
 */
export async function traceWrite<T>(prefix: string, documents: number, write: (trace: WriteTrace) => Promise<T>): Promise<T> {
  initTracing(process.env['OTEL_SERVICE_NAME'] ? {} : { serviceName: WRITER });
  const span = trace.getTracer('cdn-sched.cdnctl').startSpan(SpanNames.configWrite, { kind: SpanKind.PRODUCER, attributes: { [SpanAttributes.batchSize]: documents } });
  const traceparent = traceparentOf(span);
  try {
    return await write({ put: traceparent === '' ? undefined : { key: writerTraceKey(prefix, WRITER), value: traceparent }, span });
  } catch (error) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    throw error;
  } finally {
    span.end();
    await shutdownTracing();
  }
}
