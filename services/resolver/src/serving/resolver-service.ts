import { create } from '@bufbuild/protobuf';
import { StatusResponseSchema, serviceDefinitions, type StatusResponse } from '@cdn-sched/proto';
import { breakerStatusMessage } from '@cdn-sched/stream';
import { directRefusal, ServiceError, type DirectAnswer, type DirectStreamMethod, type DirectUnaryMethod } from '@cdn-sched/service-kit';
import type { Metadata } from '@grpc/grpc-js';
import { isSampledContext, parseTraceparent, SpanAttributes, SpanNames } from '@cdn-sched/telemetry';
import { context, ROOT_CONTEXT, trace, SpanStatusCode, type Attributes, type Context, type Span, type SpanContext } from '@opentelemetry/api';
import { Status, type MethodDefinition, type ServiceImplementation } from 'nice-grpc';
import { tierName } from '@cdn-sched/location';
import type { DecisionTally } from './decision-tally.js';
import { createDecisionResult } from '../decision/index.js';
import type { ResolveCore, ResolveInput, Decided } from './resolve-core.js';
import type { RoutingState } from './routing-state.js';
import { BatchInputs, createBatchWriter, decodeResolveRequestBytes, decodeResolveStreamRequest, DEFAULT_BATCH_LIMITS, encodeDecision, encodeResolveResponse, type BatchLimits, type ResolveBatch } from './wire-codec.js';

const base = serviceDefinitions.resolver;

/** A decoded input as a ResolveRequest to encode (its id as the message's bigint). */
const requestInit = (q: ResolveInput) => ({ ...q, queryId: BigInt(q.queryId) });

/**
 * A ResolveStream request as grpc-js hands it over: its bytes, decoded by the handler (into the
 * service's reusable {@link BatchInputs}) when it takes the batch, with the limits of the definition.
 */
export interface ResolveFrame {
  readonly bytes: Uint8Array;
  readonly limits: BatchLimits;
}

/**
 * The resolver's service definition: the generated one, except that ResolveStream reads and writes
 * through the wire-level codec (requests stay bytes until the handler decodes them into plain
 * inputs; handlers yield encoded batches), with `limits` enforced while a batch is decoded.
 */
export const createResolverServiceDefinition = (limits: BatchLimits = DEFAULT_BATCH_LIMITS) => ({
  // Unary Resolve also skips reflection: the reflective codec cost ~20 us of a ~110 us call.
  resolve: {
    path: base.resolve.path,
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: ResolveInput) => base.resolve.requestSerialize(requestInit(value)),
    requestDeserialize: decodeResolveRequestBytes,
    responseSerialize: (bytes: Uint8Array) => bytes,
    responseDeserialize: (bytes: Uint8Array) => bytes,
    options: {},
  } satisfies MethodDefinition<ResolveInput, ResolveInput, Uint8Array, Uint8Array, false, false>,
  status: base.status,
  resolveStream: {
    path: base.resolveStream.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (value: ResolveBatch) => base.resolveStream.requestSerialize({ queries: value.map(requestInit), traceparent: value.traceparent ?? '' }),
    requestDeserialize: (bytes: Uint8Array): ResolveFrame => ({ bytes, limits }),
    responseSerialize: (bytes: Uint8Array) => bytes,
    responseDeserialize: (bytes: Uint8Array) => bytes,
    options: {},
  } satisfies MethodDefinition<ResolveBatch, ResolveFrame, Uint8Array, Uint8Array, true, true>,
}) as const;

/**
 * Node's shared `Buffer` pool for a resolver process, bytes. A ResolveStream batch's reply is copied
 * three times on its way out, each into a new `Buffer`: the writer's `finish()`, nice-grpc's
 * serializer wrapper, and grpc-js's framing (5 header bytes, then the message). Node cuts buffers
 * smaller than half its pool size (8 KiB by default) from the pool, and allocates a fresh
 * `ArrayBuffer` for larger ones, at a few microseconds each to allocate and to free. Replies of
 * 100 compact decisions are ~7 KiB and of 500 ~36 KiB: with 256 KiB the three copies come from the
 * pool up to 128 KiB (~1,700 compact or ~800 full decisions), and a batch of 100 costs the resolver
 * ~5–15 % less CPU per decision (docs/benchmarks.md, "Decision path benchmarks", twenty-fourth
 * session). The price: a small buffer that lives long keeps its whole 256 KiB pool alive.
 */
export const RESOLVER_BUFFER_POOL_BYTES = 256 * 1024;

/** Sizes this process's `Buffer` pool for serving ({@link RESOLVER_BUFFER_POOL_BYTES}); call once at start. */
export function useResolverBufferPool(): void {
  if (Buffer.poolSize < RESOLVER_BUFFER_POOL_BYTES) Buffer.poolSize = RESOLVER_BUFFER_POOL_BYTES;
}

/** The definition with the default limits. */
export const resolverServiceDefinition = createResolverServiceDefinition();

/** The answer to a query whose bytes are malformed: INVALID_ARGUMENT naming the field and offset. */
function invalidQuery(message: string): Decided {
  return { ok: false, code: Status.INVALID_ARGUMENT, reason: 'malformed-query', message, table: undefined, result: createDecisionResult(), location: { country: '', region: '', isp: '' }, prefixLen: 0, degraded: false };
}

/** Options of {@link createResolverService}. */
export interface ResolverServiceOptions {
  core: ResolveCore;
  state: RoutingState;
  instanceId: string;
  /** Most queries in one ResolveStream batch. Defaults to 5,000. */
  maxBatch?: number;
  /**
   * Share of unary calls and stream batches that get a `cdn.request` span, 0..1. Defaults to 0.01:
   * creating spans for every decision at 1 M/s would cost more than the decisions.
   */
  traceRatio?: number;
  /**
   * Called after each unary call and each stream batch: decisions made, how many failed, and the
   * time spent deciding and encoding them, seconds.
   */
  onDecisions?(count: number, errors: number, durationS: number, method: 'resolve' | 'resolve_stream'): void;
  /** Counts every decision by outcome, tier and reason (for metrics). Defaults to none. */
  tally?: DecisionTally;
}

const tracer = trace.getTracer('cdn-sched.resolver');

/** What one unary Resolve answers: the encoded response, or why there is none. */
type UnaryAnswer = { ok: true; response: Uint8Array } | { ok: false; code: Status; reason: string; message: string };

/**
 * The resolver's handlers, and its unary Resolve and ResolveStream as direct methods for
 * `startServiceServer`'s `directUnary` and `directStream`: the same answers without nice-grpc's
 * per-call and per-message cost (docs/benchmarks.md, "Decision path benchmarks", twenty-first and
 * twenty-fourth sessions). The nice-grpc `resolve` and `resolveStream` stay for servers without them.
 */
export type ResolverService = ServiceImplementation<typeof resolverServiceDefinition> & {
  readonly directResolve: DirectUnaryMethod<ResolveInput, Uint8Array>;
  readonly directResolveStream: DirectStreamMethod<ResolveFrame, Uint8Array>;
};

function annotate(span: Span, decided: Decided, domain: string): void {
  const r = decided.result;
  span.setAttribute(SpanAttributes.domain, domain);
  if (decided.table) {
    // The versions the decision was made with; the span's links point at the spans that made them.
    span.setAttribute(SpanAttributes.configVersion, Number(decided.table.configVersion));
    span.setAttribute(SpanAttributes.weightsVersion, Number(decided.table.weightsVersion));
  }
  if (!decided.ok) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: decided.message });
    return;
  }
  span.setAttribute(SpanAttributes.userCountry, decided.location.country);
  span.setAttribute(SpanAttributes.userRegion, decided.location.region);
  span.setAttribute(SpanAttributes.isp, decided.location.isp);
  span.setAttribute(SpanAttributes.tier, tierName(r.tier));
  span.setAttribute(SpanAttributes.degraded, decided.degraded);
  span.setAttribute(SpanAttributes.candidateCount, r.group?.size ?? 0);
  if (r.count > 0) span.setAttribute(SpanAttributes.selectedId, decided.table!.nodes.ids[r.nodes[0]!]!);
}

/** gRPC handlers of the resolver. */
export function createResolverService(options: ResolverServiceOptions): ResolverService {
  const { core, tally } = options;
  const maxBatch = options.maxBatch ?? 5000;
  const ratio = options.traceRatio ?? 0.01;
  const sampled = (): boolean => ratio > 0 && Math.random() < ratio;
  /**
   * A `cdn.request` span linked to the producers of the routing table's config and weight versions
   * (the table a decision starting now uses) and, for a stream batch, to the sender's batch span.
   * A unary call's span is the child of `parent` (its gRPC server span, or its caller's span on the
   * direct path); a stream batch's is a root, never the child of the stream-long ResolveStream call span.
   */
  const startRequestSpan = (attributes: Attributes | undefined, sender: SpanContext | undefined, parent: Context): Span => {
    const table = options.state.table;
    const links = table ? options.state.versionTracing.links(table) : [];
    if (sender) links.unshift({ context: sender });
    return tracer.startSpan(SpanNames.request, { links, attributes }, parent);
  };
  const startedAtMs = Date.now();
  // One writer for every unary call and every stream's batches: a batch is decided and encoded
  // without an await in between and finish() copies the bytes out, so no two encodes interleave.
  // Idle streams then hold no encode buffer (a 16 KiB one each was 160 MiB at 10 k streams), and
  // the one buffer a large batch grows shrinks again after small ones (WireWriter).
  const writer = createBatchWriter();
  // Likewise one set of query objects for every stream's batches: a batch is decoded, decided and
  // encoded without an await, so no two batches' queries are alive at once; at most MAX_BATCH
  // objects (~0.4 MB), not that many per stream.
  const inputs = new BatchInputs();

  /**
   * One unary Resolve: the nice-grpc handler's and the direct method's. `parent` is the span
   * context of the call (the gRPC server span, or the caller's `traceparent` on the direct path);
   * `traced` forces a span whatever the ratio (a caller that sampled its trace).
   */
  const answerResolve = (request: ResolveInput, parent: Context, traced: boolean): UnaryAnswer => {
    if (request.invalid !== undefined) return { ok: false, code: Status.INVALID_ARGUMENT, reason: 'malformed-request', message: request.invalid };
    const startedAt = performance.now();
    const span = traced || sampled() ? startRequestSpan(undefined, undefined, parent) : undefined;
    const decided = core.resolve(request);
    tally?.count(decided);
    if (span) {
      annotate(span, decided, request.domain);
      span.end();
    }
    if (!decided.ok) {
      options.onDecisions?.(1, 1, (performance.now() - startedAt) / 1000, 'resolve');
      return { ok: false, code: decided.code, reason: decided.reason, message: decided.message };
    }
    const response = encodeResolveResponse(writer.reset(), request.queryId, decided, request.compact === true);
    options.onDecisions?.(1, 0, (performance.now() - startedAt) / 1000, 'resolve');
    return { ok: true, response };
  };

  /**
   * One ResolveStream batch: its reply, or the status that ends the stream. The nice-grpc handler's
   * and the direct method's. A batch that cannot be answered item by item is a protocol misuse and
   * ends the stream; a bad item inside a batch only fails that item (ItemError).
   */
  const answerBatch = (frame: ResolveFrame): Uint8Array | ServiceError => {
    const queries = decodeResolveStreamRequest(frame.bytes, frame.limits, inputs);
    if (queries instanceof ServiceError) return queries;
    if (queries.length === 0) return new ServiceError(Status.INVALID_ARGUMENT, 'empty-batch', 'send at least one query per ResolveStreamRequest');
    if (queries.length > maxBatch) {
      return new ServiceError(Status.RESOURCE_EXHAUSTED, 'batch-too-large', `batch of ${queries.length} queries is over the limit of ${maxBatch}; split it into smaller batches`);
    }
    const startedAt = performance.now();
    // A batch the sender traced is always traced here (its link makes the sampler keep it); an
    // untraced batch costs one property check on top of the ratio draw.
    const sender = queries.traceparent === undefined ? undefined : parseTraceparent(queries.traceparent);
    const span = isSampledContext(sender) || sampled() ? startRequestSpan({ [SpanAttributes.batchSize]: queries.length }, sender, ROOT_CONTEXT) : undefined;
    let errors = 0;
    writer.reset();
    const stale = core.upstreamStale();
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i]!;
      const decided = q.invalid === undefined ? core.resolve(q, stale) : invalidQuery(q.invalid);
      if (!decided.ok) errors++;
      tally?.count(decided);
      if (span && i === 0) annotate(span, decided, q.domain);
      encodeDecision(writer, q.queryId, decided, q.compact === true);
    }
    span?.end();
    const bytes = writer.finish();
    options.onDecisions?.(queries.length, errors, (performance.now() - startedAt) / 1000, 'resolve_stream');
    return bytes;
  };

  return {
    directResolve: {
      path: base.resolve.path,
      answer(request: ResolveInput, metadata: Metadata): DirectAnswer<Uint8Array> {
        // The caller's trace, as the gRPC server span would have carried it (W3C traceparent).
        const header = metadata.get('traceparent');
        const caller = header.length === 1 && typeof header[0] === 'string' ? parseTraceparent(header[0]) : undefined;
        const answer = answerResolve(request, caller ? trace.setSpanContext(ROOT_CONTEXT, caller) : ROOT_CONTEXT, isSampledContext(caller));
        return answer.ok ? answer : directRefusal(answer.code, answer.reason, answer.message);
      },
    },

    async resolve(request: ResolveInput) {
      const answer = answerResolve(request, context.active(), false);
      if (!answer.ok) throw new ServiceError(answer.code, answer.reason, answer.message);
      return answer.response;
    },

    directResolveStream: {
      path: base.resolveStream.path,
      answer(frame: ResolveFrame): DirectAnswer<Uint8Array> {
        const answer = answerBatch(frame);
        return answer instanceof ServiceError ? directRefusal(answer.code, answer.reason, answer.detail) : { ok: true, response: answer };
      },
    },

    async *resolveStream(frames) {
      for await (const frame of frames) {
        const answer = answerBatch(frame);
        if (answer instanceof ServiceError) throw answer;
        yield answer;
      }
    },

    async status(): Promise<StatusResponse> {
      return resolverStatus(options, startedAtMs);
    },
  };
}

/** What the resolver says about itself (its Status answer, and its breaker and stream metrics). */
export function resolverStatus(options: Pick<ResolverServiceOptions, 'state' | 'instanceId'>, startedAtMs: number): StatusResponse {
  const s = options.state;
  const reasons = s.reasons();
  const table = s.table;
  const breakers = [s.config.breakerStatus(), s.weights.breakerStatus()];
  return create(StatusResponseSchema, {
    service: 'resolver',
    instanceId: options.instanceId,
    startedAtMs: BigInt(startedAtMs),
    ready: table !== undefined,
    reasons: table ? reasons : ['no routing state yet', ...reasons],
    version: table?.configVersion ?? 0n,
    breakers: breakers.map(breakerStatusMessage),
    streams: s.upstreams.streams(),
    watchLatencyP99Ms: Number.isFinite(s.config.state.watchLatencyP99Ms) ? s.config.state.watchLatencyP99Ms : 0,
    gauges: {
      nodes: table?.nodes.count ?? 0,
      domains: table?.domains.length ?? 0,
      weights_version: Number(table?.weightsVersion ?? 0n),
      rebuilds: s.rebuilds,
      degraded: s.degraded() ? 1 : 0,
    },
  });
}
