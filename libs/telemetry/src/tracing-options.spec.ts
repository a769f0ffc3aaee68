import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { currentTracing, initTracing, shutdownTracing } from './tracing.js';

afterEach(async () => {
  await shutdownTracing();
});

function recordOneSpan(): void {
  trace.getTracer('options-spec').startSpan('cdn.probe').end();
}

describe('initTracing options', () => {
  it('samples every root trace when spans go somewhere, and none when they go nowhere', async () => {
    expect(initTracing({ env: {} }).sampleRatio).toBe(0);
    await shutdownTracing();
    const exporter = new InMemorySpanExporter();
    expect(initTracing({ env: {}, spanProcessors: [new SimpleSpanProcessor(exporter)] }).sampleRatio).toBe(1);
    recordOneSpan();
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['cdn.probe']);
  });

  it('takes the ratio from OTEL_TRACES_SAMPLER_ARG, and the option over it', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = initTracing({ env: { OTEL_TRACES_SAMPLER_ARG: '0' }, spanProcessors: [new SimpleSpanProcessor(exporter)] });
    expect(tracing.sampleRatio).toBe(0);
    recordOneSpan();
    expect(exporter.getFinishedSpans()).toEqual([]);
    await shutdownTracing();
    expect(initTracing({ env: { OTEL_TRACES_SAMPLER_ARG: '0' }, sampleRatio: 0.5 }).sampleRatio).toBe(0.5);
  });

  it('names the service from OTEL_SERVICE_NAME, the option over it, and adds resource attributes', async () => {
    const exporter = new InMemorySpanExporter();
    initTracing({
      env: { OTEL_SERVICE_NAME: 'from-env' },
      resourceAttributes: { 'service.instance.id': 'r-1' },
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    recordOneSpan();
    expect(exporter.getFinishedSpans()[0].resource.attributes).toMatchObject({ 'service.name': 'from-env', 'service.instance.id': 'r-1' });
    // Shutting the provider down also stops its exporter: the second setup gets a fresh one.
    await shutdownTracing();
    const second = new InMemorySpanExporter();
    initTracing({ env: { OTEL_SERVICE_NAME: 'from-env' }, serviceName: 'resolver', spanProcessors: [new SimpleSpanProcessor(second)] });
    recordOneSpan();
    expect(second.getFinishedSpans()[0].resource.attributes['service.name']).toBe('resolver');
  });

  it('builds the OTLP URL from the environment, and sets up nothing when the SDK is disabled', async () => {
    expect(initTracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' } }).otlpTracesUrl).toBe('http://127.0.0.1:1/v1/traces');
    await shutdownTracing();
    const disabled = initTracing({ env: { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' } });
    expect(disabled).toMatchObject({ provider: undefined, otlpTracesUrl: undefined, sampleRatio: 0 });
    expect(currentTracing()).toBe(disabled);
  });

  it('refuses a ratio outside [0, 1] and leaves nothing set up', () => {
    expect(() => initTracing({ env: {}, sampleRatio: 2 })).toThrow('sampleRatio: must be in [0, 1], got 2');
    expect(currentTracing()).toBeUndefined();
  });

  it('can be set up again after shutdown, and shutdown is idempotent', async () => {
    const first = initTracing({ env: {} });
    const stop = first.shutdown();
    expect(first.shutdown()).toBe(stop);
    await stop;
    expect(currentTracing()).toBeUndefined();
    const second = initTracing({ env: {} });
    expect(second).not.toBe(first);
    expect(currentTracing()).toBe(second);
  });
});
