// This file loads @grpc/grpc-js only after initTracing(), in its own process (vitest `pool:
// 'forks'`), which is the order `--import @cdn-sched/telemetry/register` guarantees a service.
// grpc-js is loaded with require(), the way nice-grpc loads it: vitest imports external modules by
// absolute file path, which import-in-the-middle cannot map back to a package name. The ESM
// `import '@grpc/grpc-js'` path is covered by register.spec.ts, in a plain Node process.
import { createRequire } from 'node:module';
import { context, propagation, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type * as GrpcJs from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SpanNames, SpanAttributes } from './span-names.js';
import { currentTracing, initTracing, shutdownTracing } from './tracing.js';

const exporter = new InMemorySpanExporter();
let grpc: typeof GrpcJs;
let server: GrpcJs.Server;
let client: GrpcJs.Client & Record<string, (...args: unknown[]) => unknown>;

const identity = (value: Buffer): Buffer => value;
const echoService = {
  ping: {
    path: '/cdn.test.v1.Echo/Ping',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies GrpcJs.ServiceDefinition;

function ping(payload: string, metadata?: GrpcJs.Metadata): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, reply: Buffer): void => (error ? reject(error) : resolve(reply));
    if (metadata) client.ping(Buffer.from(payload), metadata, done);
    else client.ping(Buffer.from(payload), done);
  });
}

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name);
}

beforeAll(async () => {
  initTracing({ serviceName: 'telemetry-spec', spanProcessors: [new SimpleSpanProcessor(exporter)], env: {} });
  grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcJs;
  server = new grpc.Server();
  server.addService(echoService, {
    ping: (call: GrpcJs.ServerUnaryCall<Buffer, Buffer>, callback: GrpcJs.sendUnaryData<Buffer>) => {
      if (call.request.toString() === 'fail') callback({ code: grpc.status.FAILED_PRECONDITION, details: 'told to fail' });
      else callback(null, Buffer.concat([Buffer.from('pong:'), call.request]));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const Client = grpc.makeGenericClientConstructor(echoService, 'Echo');
  client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as typeof client;
});

afterAll(async () => {
  client?.close();
  await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
  await shutdownTracing();
});

describe('initTracing before grpc-js is loaded', () => {
  it('records a client and a server span with the rpc attributes, in one trace', async () => {
    exporter.reset();
    expect((await ping('a')).toString()).toBe('pong:a');
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(2), { timeout: 5_000 });

    const [clientSpan] = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.CLIENT);
    const [serverSpan] = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
    for (const span of [clientSpan, serverSpan]) {
      expect(span.name).toBe('grpc.cdn.test.v1.Echo/Ping');
      expect(span.attributes['rpc.system']).toBe('grpc');
      expect(span.attributes['rpc.service']).toBe('cdn.test.v1.Echo');
      expect(span.attributes['rpc.method']).toBe('Ping');
      expect(span.attributes['rpc.grpc.status_code']).toBe(grpc.status.OK);
      expect(span.resource.attributes['service.name']).toBe('telemetry-spec');
    }
    // W3C trace context went over the wire in the call's metadata: the server span is the
    // client span's child.
    expect(serverSpan.spanContext().traceId).toBe(clientSpan.spanContext().traceId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
  });

  it('makes the gRPC client span a child of the active application span', async () => {
    exporter.reset();
    const tracer = trace.getTracer('telemetry-spec');
    await tracer.startActiveSpan(SpanNames.request, async (span) => {
      span.setAttribute(SpanAttributes.userRegion, 'CN-GD');
      await ping('b');
      span.end();
    });
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(3), { timeout: 5_000 });
    const [request] = spansNamed(SpanNames.request);
    const clientSpan = exporter.getFinishedSpans().find((span) => span.kind === SpanKind.CLIENT);
    expect(request.attributes[SpanAttributes.userRegion]).toBe('CN-GD');
    expect(clientSpan?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(clientSpan?.spanContext().traceId).toBe(request.spanContext().traceId);
  });

  it('marks a failed call with its gRPC status on both sides', async () => {
    exporter.reset();
    await expect(ping('fail')).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(2), { timeout: 5_000 });
    for (const span of exporter.getFinishedSpans()) {
      expect(span.attributes['rpc.grpc.status_code']).toBe(grpc.status.FAILED_PRECONDITION);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
    }
  });

  it('continues a trace propagated from upstream (ParentBased sampling)', async () => {
    exporter.reset();
    // An upstream caller's sampled trace context, as a DNS front-end would send it.
    const carrier = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const upstream = propagation.extract(context.active(), carrier);
    await context.with(upstream, () => ping('c'));
    await vi.waitFor(() => expect(exporter.getFinishedSpans()).toHaveLength(2), { timeout: 5_000 });
    for (const span of exporter.getFinishedSpans()) {
      expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    }
  });

  it('keeps one provider per process: a second initTracing returns the first', () => {
    const first = currentTracing();
    expect(first?.sampleRatio).toBe(1);
    expect(initTracing({ serviceName: 'other', sampleRatio: 0 })).toBe(first);
  });
});
