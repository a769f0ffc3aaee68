// A file of its own: it changes the process's global context manager (vitest runs each spec file
// in its own worker, pool 'forks').
import { executionAsyncResource } from 'node:async_hooks';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { initTracing, shutdownTracing, useExplicitContext } from './tracing.js';

describe('useExplicitContext', () => {
  afterAll(() => shutdownTracing());

  it('stops the implicit active span (and the async hook behind it); spans are still sampled, parented when passed, and exported', async () => {
    const exporter = new InMemorySpanExporter();
    initTracing({ serviceName: 'explicit-context-test', sampleRatio: 1, spanProcessors: [new SimpleSpanProcessor(exporter)], env: {} });
    const tracer = trace.getTracer('test');
    const outer = tracer.startSpan('outer');
    // With AsyncLocalStorage the active span follows into a callback scheduled inside with().
    const carried = await context.with(trace.setSpan(context.active(), outer), () => new Promise((resolve) => setImmediate(() => resolve(trace.getActiveSpan()))));
    expect(carried).toBe(outer);
    // ...because Node's hook stored the context on the immediate's async resource.
    const storesOnResource = () =>
      context.with(trace.setSpan(context.active(), outer), () => new Promise<string[]>((resolve) => setImmediate(() => resolve(Object.getOwnPropertySymbols(executionAsyncResource()).map(String)))));
    expect(await storesOnResource()).toContain('Symbol(kResourceStore)');

    useExplicitContext();
    expect(context.with(trace.setSpan(context.active(), outer), () => trace.getActiveSpan())).toBeUndefined();
    expect(context.active()).toBe(ROOT_CONTEXT);
    expect(await storesOnResource()).not.toContain('Symbol(kResourceStore)');

    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, outer));
    expect(child.isRecording()).toBe(true);
    child.end();
    outer.end();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['child', 'outer']);
    expect(spans[0]!.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(spans[0]!.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
  });
});
