/**
 * Server process of the serving benchmark, forked by `serving.bench.ts`. It runs, each on its own
 * loopback port (port 0):
 *
 * - the real resolver: the production service definition and handlers on the server main.ts starts
 *   (`startServiceServer`: nice-grpc with health and reflection), over the shipped IP database and
 *   the benchmark's routing table. No etcd: the table is fixed, and the routing state is a stub
 *   that only `Status` would read;
 * - the baseline: a bare grpc-js server registering the same two paths with identity serializers,
 *   answering every request batch (or unary call) with pre-encoded bytes. Those bytes are what
 *   the resolver's own handlers answered to the first batch of each size (and to the first
 *   answerable unary request), so both servers put the same number of bytes on the wire.
 *
 * Only one of them is loaded at a time. The parent brackets each measured window with `mark` and
 * `report`; the reply gives this process's CPU time, the items it answered, its event-loop
 * delay and its mark-compacts over the window.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import {
  reflectionFiles,
  ResolveRequestSchema,
  ResolveResponseSchema,
  ResolveStreamRequestSchema,
  ResolveStreamResponseSchema,
  type ResolveRequest,
  type ResolveResponse,
  type ResolveStreamRequest,
} from '@cdn-sched/proto';
import { startServiceServer } from '@cdn-sched/service-kit';
import * as grpc from '@grpc/grpc-js';
import type { CallContext } from 'nice-grpc';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { createResolveCore } from '../serving/resolve-core.js';
import { createResolverService, resolverServiceDefinition, useResolverBufferPool, type ResolveFrame } from '../serving/resolver-service.js';
import type { RoutingState } from '../serving/routing-state.js';
import { createVersionTracing } from '../serving/version-tracing.js';
import { BATCH_SIZE_HEADER, ELD_RESOLUTION_MS, rawMethods, type BenchRequests, type ServerCommand, type ServerMessage } from './bench-protocol.js';
import { createBenchTable } from './bench-workload.js';

const send = (message: ServerMessage): void => void process.send?.(message);
const init = await new Promise<Extract<ServerCommand, { type: 'init' }>>((resolve) => {
  const onMessage = (command: ServerCommand): void => {
    if (command.type !== 'init') return;
    process.off('message', onMessage);
    resolve(command);
  };
  process.on('message', onMessage);
  send({ type: 'started' });
});

// The resolver's Buffer pool, as its main sets it (the echo baselines share it).
useResolverBufferPool();
const geo = await createGeoIpProvider();
const table = createBenchTable(init.seed);
let answered = 0;
const core = createResolveCore({ table: () => table, geo: () => geo.database, stale: () => false, seed: init.seed });
const service = createResolverService({
  core,
  // Decisions read the table and, for a sampled `cdn.request`, the version tracing; the rest of the
  // routing state serves the Status handler, which the benchmark never calls.
  state: { table, versionTracing: createVersionTracing() } as unknown as RoutingState,
  instanceId: 'resolver-bench',
  // main.ts's counters cost one call per batch; this one costs the same.
  onDecisions: (count) => void (answered += count),
});
const resolver = await startServiceServer({
  port: 0,
  register: (s) => s.add(resolverServiceDefinition, service),
  reflection: [reflectionFiles.resolver],
  serviceNames: ['cdn.sched.v1.ResolverService'],
  // BENCH_UNARY_PATH=nice / BENCH_STREAM_PATH=nice: unary Resolve / ResolveStream through their
  // nice-grpc handlers, as before the direct paths.
  directUnary: process.env['BENCH_UNARY_PATH'] === 'nice' ? [] : [service.directResolve],
  directStream: process.env['BENCH_STREAM_PATH'] === 'nice' ? [] : [service.directResolveStream],
});
resolver.setServing(true);

// The handlers never read their call context.
const context = {} as CallContext;
const replies = await realReplies(init.requests);
const echo = await startEcho(replies);
const echoCodec = await startEchoCodec(replies);

async function realReplies(requests: BenchRequests): Promise<{ batches: Map<number, Buffer>; unary: Buffer }> {
  const batches = new Map<number, Buffer>();
  for (const [size, list] of Object.entries(requests.batches)) {
    const frame = resolverServiceDefinition.resolveStream.requestDeserialize(list[0]!);
    async function* one(): AsyncIterable<ResolveFrame> {
      yield frame;
    }
    for await (const reply of service.resolveStream(one(), context)) batches.set(Number(size), Buffer.from(reply));
  }
  for (const bytes of requests.unary) {
    try {
      const response = await service.resolve(fromBinary(ResolveRequestSchema, bytes), context);
      return { batches, unary: Buffer.from(resolverServiceDefinition.resolve.responseSerialize(response)) };
    } catch {
      // An item error (e.g. no node for an unlocated client under an error-when-down policy): try the next.
    }
  }
  throw new Error('no unary request of the workload could be answered');
}

async function startEcho(pre: { batches: Map<number, Buffer>; unary: Buffer }): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(rawMethods, {
    resolveStream(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
      const size = Number(call.metadata.get(BATCH_SIZE_HEADER)[0] ?? 0);
      const reply = pre.batches.get(size);
      if (!reply) {
        call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `no pre-encoded reply for batch size ${size}` });
        return;
      }
      // No backpressure handling: the client keeps a fixed number of batches in flight per stream.
      call.on('data', () => {
        answered += size;
        call.write(reply);
      });
      call.on('end', () => call.end());
    },
    resolve(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
      answered++;
      callback(null, pre.unary);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { server, port };
}

/**
 * The codec baseline: a plain grpc-js bidi/unary service with the generated protobuf-es codec. It
 * decodes every request and answers each query with a copy of a real decision (same size on the
 * wire as the resolver's), echoing the query id: everything a service does except deciding.
 */
async function startEchoCodec(pre: { batches: Map<number, Buffer>; unary: Buffer }): Promise<{ server: grpc.Server; port: number }> {
  const unarySample = fromBinary(ResolveResponseSchema, pre.unary);
  // The stream echo answers with one of the resolver's own batch replies; a unary-only run
  // (BENCH_CONFIGS=unary) has none, and its stream path is never called.
  const firstBatch = pre.batches.values().next().value;
  const sample = firstBatch === undefined ? unarySample : (fromBinary(ResolveStreamResponseSchema, firstBatch).decisions.find((d) => d.result.case === 'response')!.result.value as ResolveResponse);
  const server = new grpc.Server();
  server.addService(
    {
      resolveStream: {
        path: rawMethods.resolveStream.path,
        requestStream: true,
        responseStream: true,
        requestSerialize: (m: unknown) => Buffer.from(toBinary(ResolveStreamRequestSchema, m as never)),
        requestDeserialize: (b: Buffer) => fromBinary(ResolveStreamRequestSchema, b),
        responseSerialize: (m: unknown) => Buffer.from(toBinary(ResolveStreamResponseSchema, m as never)),
        responseDeserialize: (b: Buffer) => fromBinary(ResolveStreamResponseSchema, b),
      },
      resolve: {
        path: rawMethods.resolve.path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: unknown) => Buffer.from(toBinary(ResolveRequestSchema, m as never)),
        requestDeserialize: (b: Buffer) => fromBinary(ResolveRequestSchema, b),
        responseSerialize: (m: unknown) => Buffer.from(toBinary(ResolveResponseSchema, m as never)),
        responseDeserialize: (b: Buffer) => fromBinary(ResolveResponseSchema, b),
      },
    },
    {
      resolveStream(call: grpc.ServerDuplexStream<ResolveStreamRequest, unknown>) {
        call.on('data', (request: ResolveStreamRequest) => {
          answered += request.queries.length;
          call.write(
            create(ResolveStreamResponseSchema, {
              decisions: request.queries.map((q) => ({ queryId: q.queryId, result: { case: 'response' as const, value: { ...sample, queryId: q.queryId } } })),
            }),
          );
        });
        call.on('end', () => call.end());
      },
      resolve(call: grpc.ServerUnaryCall<ResolveRequest, unknown>, callback: grpc.sendUnaryData<unknown>) {
        answered++;
        callback(null, create(ResolveResponseSchema, { ...unarySample, queryId: call.request.queryId }));
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return { server, port };
}

const loopDelay = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
loopDelay.enable();
let window = { wall: performance.now(), cpu: process.cpuUsage() };
const majorGc = { count: 0, ms: 0 };
const gcObserver = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
    majorGc.count++;
    majorGc.ms += entry.duration;
  }
});
gcObserver.observe({ entryTypes: ['gc'] });

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  loopDelay.disable();
  gcObserver.disconnect();
  echo.server.forceShutdown();
  echoCodec.server.forceShutdown();
  await resolver.close(0);
  geo.close();
  if (process.connected) process.disconnect();
};

process.on('message', (command: ServerCommand) => {
  if (command.type === 'mark') {
    loopDelay.reset();
    answered = 0;
    majorGc.count = 0;
    majorGc.ms = 0;
    window = { wall: performance.now(), cpu: process.cpuUsage() };
  } else if (command.type === 'report') {
    const cpu = process.cpuUsage(window.cpu);
    // The histogram holds whole sampling periods (the timer's interval plus its lateness).
    const beyond = (ns: number): number => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
    send({
      type: 'window',
      wallMs: performance.now() - window.wall,
      cpuMs: (cpu.user + cpu.system) / 1000,
      decisions: answered,
      eventLoopDelayP99Ms: loopDelay.count > 0 ? beyond(loopDelay.percentile(99)) : 0,
      eventLoopDelayMaxMs: loopDelay.count > 0 ? beyond(loopDelay.max) : 0,
      markCompacts: majorGc.count,
      markCompactMs: majorGc.ms,
    });
  } else if (command.type === 'close') {
    void shutdown();
  }
});
process.on('disconnect', () => void shutdown());
send({
  type: 'ready',
  ports: { resolver: resolver.port, echo: echo.port, echoCodec: echoCodec.port },
  replyBytes: { batches: Object.fromEntries([...replies.batches].map(([size, b]) => [size, b.length])), unary: replies.unary.length },
});
