import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ResolveStreamRequestSchema, ResolveStreamResponseSchema, serviceDefinitions } from '@cdn-sched/proto';
import { createPushQueue, type PushQueue } from '@cdn-sched/stream';
import { SpanNames, traceparentOf } from '@cdn-sched/telemetry';
import { context, SpanKind, SpanStatusCode, trace, type Span, type SpanContext } from '@opentelemetry/api';
import { createChannel, createClient, Status, type Channel, type Client, type MethodDefinition } from 'nice-grpc';
import { createBatchWriter, decodeDecisionBatch, encodeDecisionBatch, type DecidedResponse, type IncomingDecision, type OutgoingBatch, type OutgoingQuery } from './decision-codec.js';

/** One question for a resolver. */
export interface DecisionQuery {
  /** The address the packet came from (decides when `ecsSubnet` is empty). */
  readonly clientIp: string;
  /** `address/prefix` from the query's ECS option, or empty. */
  readonly ecsSubnet: string;
  readonly domain: string;
  /** The sampled span of the DNS query, linked from the batch span that carries it. */
  readonly trace?: SpanContext;
}

/** A decision, or why there is none (gRPC status code; DEADLINE_EXCEEDED when no resolver answered in time). */
export type DecisionOutcome =
  | { readonly ok: true; readonly response: DecidedResponse }
  /** `transport`: no resolver said it (deadline, unreachable, stopping); else the resolver's own item error. */
  | { readonly ok: false; readonly code: number; readonly message: string; readonly transport: boolean };

/** Options of {@link createDecisionClient}. */
export interface DecisionClientOptions {
  /** Resolver addresses `host:port`, tried in order; a failed one is skipped for `retryAfterMs`. */
  targets: readonly string[];
  /** A batch is sent once it holds this many queries. Defaults to 64. */
  batchSize?: number;
  /** A partial batch is sent after this long; 0 means at the end of the current event-loop turn. Defaults to 0. */
  flushDelayMs?: number;
  /** Every query is settled within this long of being asked, milliseconds. Defaults to 1000. */
  deadlineMs?: number;
  /**
   * A stream that has answered nothing for this long while queries wait is taken for hung: its
   * queries move to the next resolver. Defaults to half of `deadlineMs`.
   */
  stallMs?: number;
  /** How long a resolver whose stream failed is passed over, milliseconds. Defaults to 1000. */
  retryAfterMs?: number;
  onFailover?(from: string, to: string, reason: string): void;
  /** Opens the channel to a resolver (mutual TLS, limits). Defaults to a plaintext channel. */
  channel?(target: string): Channel;
  /** Clock in milliseconds. Defaults to performance.now. */
  now?: () => number;
}

/** Batched decisions over `ResolveStream` with failover between resolvers. */
export interface DecisionClient {
  decide(query: DecisionQuery): Promise<DecisionOutcome>;
  /** The resolver queries go to now. */
  readonly target: string;
  /** Queries waiting for a decision. */
  readonly pending: number;
  close(): Promise<void>;
}

const batchWriter = createBatchWriter();

/**
 * `ResolveStream` as the gateway calls it: batches written and decisions read by the hand-written
 * codec (decision-codec.ts), the same bytes on the wire as the generated definition. The
 * server-side halves use the reflective codec (a test serves this definition).
 */
export const resolveStreamDefinition = {
  resolveStream: {
    path: serviceDefinitions.resolver.resolveStream.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: (batch: OutgoingBatch) => encodeDecisionBatch(batchWriter, batch),
    requestDeserialize: (bytes: Uint8Array): OutgoingBatch => {
      const m = fromBinary(ResolveStreamRequestSchema, bytes);
      return { queries: m.queries.map((q) => ({ queryId: Number(q.queryId), clientIp: q.clientIp, ecsSubnet: q.ecsSubnet, domain: q.domain })), traceparent: m.traceparent };
    },
    responseSerialize: (decisions: IncomingDecision[]) => toBinary(ResolveStreamResponseSchema, create(ResolveStreamResponseSchema, { decisions })),
    responseDeserialize: decodeDecisionBatch,
    options: {},
  } satisfies MethodDefinition<OutgoingBatch, OutgoingBatch, IncomingDecision[], IncomingDecision[], true, true>,
};

type ResolverClient = Client<typeof resolveStreamDefinition>;

const tracer = trace.getTracer('cdn-sched.dns-gateway');

interface OpenStream {
  readonly target: number;
  readonly queue: PushQueue<OutgoingBatch>;
  readonly abort: AbortController;
  lastReceivedAt: number;
  closed: boolean;
  ended: Promise<void>;
}

/** The span of one sent batch; it ends when the last sampled query in it settles. */
interface BatchTrace {
  readonly span: Span;
  open: number;
}

interface Pending {
  readonly id: number;
  batchTrace: BatchTrace | undefined;
  readonly query: DecisionQuery;
  readonly deadlineAt: number;
  sentAt: number;
  stream: OpenStream | undefined;
  readonly resolve: (outcome: DecisionOutcome) => void;
}

/**
 * Queries waiting for a decision, by id, in a ring of slots indexed by the id's low bits: ids are
 * handed out in order and mostly settled in order, so the ring holds the span from the oldest
 * waiting id to the newest and grows when that span outgrows it. Iterates oldest first (deadlines
 * are handed out in id order too).
 *
 * Not a `Map`: with the waiting queries in a `Map` (ids that only grow, each entry deleted within a
 * millisecond, iterated by the deadline sweep), young-generation collections of a gateway deciding
 * every query kept ~750 KB alive each and promoted it (the sampling heap profile of what major
 * collections freed: the queries, their decisions and the Map's own tables) and paused it 5–25 ms;
 * with this ring, 167 KB survive and 61 KB are promoted, pauses 1.7 ms on average (`--trace-gc-nvp`
 * under `npm run bench -- dns`, cache off). A small program churning a `Map` the same way did not
 * show it, so the exact V8 mechanism is not pinned down; the measured difference is what this rests on.
 */
export class WaitingQueries<T extends { readonly id: number }> {
  private slots: (T | undefined)[] = new Array<T | undefined>(1024).fill(undefined);
  private mask = 1023;
  /** No id below this is waiting. */
  private oldest = 1;
  /** One past the newest id added. */
  private end = 1;
  size = 0;

  /** Adds `p`, whose id is above every id added before. */
  add(p: T): void {
    if (p.id < this.end) throw new Error(`dns-gateway: query id ${p.id} added out of order`);
    if (this.size === 0) this.oldest = p.id;
    while (p.id - this.oldest >= this.slots.length) this.grow();
    this.slots[p.id & this.mask] = p;
    this.end = p.id + 1;
    this.size++;
  }

  get(id: number): T | undefined {
    if (!(id >= this.oldest && id < this.end)) return undefined;
    const p = this.slots[id & this.mask];
    return p !== undefined && p.id === id ? p : undefined;
  }

  /** Removes the query with `id`; false when it was not waiting. */
  delete(id: number): boolean {
    if (this.get(id) === undefined) return false;
    this.slots[id & this.mask] = undefined;
    this.size--;
    while (this.oldest < this.end && this.slots[this.oldest & this.mask] === undefined) this.oldest++;
    return true;
  }

  /** The waiting queries, oldest first (a copy: settling them while iterating is safe). */
  list(): T[] {
    const out: T[] = [];
    for (let id = this.oldest; id < this.end && out.length < this.size; id++) {
      const p = this.slots[id & this.mask];
      if (p !== undefined && p.id === id) out.push(p);
    }
    return out;
  }

  /** The oldest waiting query. */
  first(): T | undefined {
    return this.size === 0 ? undefined : this.slots[this.oldest & this.mask];
  }

  private grow(): void {
    const slots = new Array<T | undefined>(this.slots.length * 2).fill(undefined);
    const mask = slots.length - 1;
    for (let id = this.oldest; id < this.end; id++) {
      const p = this.slots[id & this.mask];
      if (p !== undefined && p.id === id) slots[id & mask] = p;
    }
    this.slots = slots;
    this.mask = mask;
  }
}

/**
 * Sends queries to a resolver in batches over one `ResolveStream` (flushed on size or after a
 * short delay) and matches decisions by query id. When the stream fails, or answers nothing for
 * `stallMs` while queries wait, the waiting queries are sent again to the next resolver; every
 * query is settled by its deadline, so a caller never waits longer than `deadlineMs`.
 */
export function createDecisionClient(options: DecisionClientOptions): DecisionClient {
  if (options.targets.length === 0) throw new Error('dns-gateway: at least one resolver address is needed');
  const now = options.now ?? (() => performance.now());
  const batchSize = options.batchSize ?? 64;
  const flushDelayMs = options.flushDelayMs ?? 0;
  const deadlineMs = options.deadlineMs ?? 1000;
  const stallMs = options.stallMs ?? deadlineMs / 2;
  const retryAfterMs = options.retryAfterMs ?? 1000;
  const channels: Channel[] = options.targets.map((t) => (options.channel ? options.channel(t) : createChannel(t)));
  const clients: ResolverClient[] = channels.map((c) => createClient(resolveStreamDefinition, c));
  // Connect to every resolver now: a failover must not pay for a TCP and HTTP/2 handshake.
  for (const c of channels) c.getConnectivityState(true);
  const downUntil = options.targets.map(() => 0);
  const pending = new WaitingQueries<Pending>();
  let nextId = 1;
  let active = 0;
  let stream: OpenStream | undefined;
  let batch: Pending[] = [];
  let flushScheduled: { cancel(): void } | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const release = (p: Pending, error: string | undefined): void => {
    const bt = p.batchTrace;
    if (!bt) return;
    p.batchTrace = undefined;
    if (error !== undefined) bt.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    if (--bt.open === 0) bt.span.end();
  };

  const settle = (p: Pending, outcome: DecisionOutcome): void => {
    if (!pending.delete(p.id)) return;
    release(p, outcome.ok || !outcome.transport ? undefined : outcome.message);
    p.resolve(outcome);
  };

  const onResponse = (s: OpenStream, decisions: IncomingDecision[]): void => {
    s.lastReceivedAt = now();
    for (const d of decisions) {
      const p = pending.get(Number(d.queryId));
      if (!p) continue;
      if (d.result.case === 'response') settle(p, { ok: true, response: d.result.value });
      else if (d.result.case === 'error') settle(p, { ok: false, code: d.result.value.code, message: d.result.value.message, transport: false });
      else settle(p, { ok: false, code: Status.INTERNAL, message: 'decision without a result', transport: false });
    }
  };

  const open = (target: number): OpenStream => {
    const abort = new AbortController();
    const queue = createPushQueue<OutgoingBatch>();
    const s: OpenStream = { target, queue, abort, lastReceivedAt: now(), closed: false, ended: Promise.resolve() };
    s.ended = (async () => {
      let reason = 'the resolver ended the stream';
      try {
        for await (const res of clients[target]!.resolveStream(queue, { signal: abort.signal })) onResponse(s, res);
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
      s.closed = true;
      if (!closed) streamFailed(s, reason);
    })();
    return s;
  };

  /** Picks the next resolver not recently failed (the failed one itself when every one has failed). */
  const failover = (from: number, reason: string): void => {
    downUntil[from] = now() + retryAfterMs;
    let next = from;
    for (let i = 1; i <= options.targets.length; i++) {
      const c = (from + i) % options.targets.length;
      if (downUntil[c]! <= now()) {
        next = c;
        break;
      }
    }
    active = next;
    if (next !== from) options.onFailover?.(options.targets[from]!, options.targets[next]!, reason);
  };

  const streamFailed = (s: OpenStream, reason: string): void => {
    if (stream === s) {
      stream = undefined;
      failover(s.target, reason);
    }
    // Its unanswered queries go to whichever resolver is now active, or fail at once when every
    // resolver has failed recently (the caller then answers stale or SERVFAIL, without waiting).
    const orphans = pending.list().filter((p) => p.stream === s);
    const allDown = downUntil.every((t) => t > now());
    for (const p of orphans) {
      if (allDown) settle(p, { ok: false, code: Status.UNAVAILABLE, message: `no resolver reachable (${reason})`, transport: true });
      else {
        release(p, `failed over: ${reason}`);
        p.stream = undefined;
        batch.push(p);
      }
    }
    if (batch.length > 0) scheduleFlush();
  };

  const flush = (): void => {
    flushScheduled = undefined;
    if (batch.length === 0 || closed) return;
    if (!stream || stream.closed) stream = open(active);
    const s = stream;
    const t = now();
    const queries: OutgoingQuery[] = [];
    const traced: Pending[] = [];
    for (const p of batch) {
      if (pending.get(p.id) !== p) continue;
      p.stream = s;
      p.sentAt = t;
      if (p.query.trace) traced.push(p);
      // compact: a DNS answer needs the answers, their TTL, the ECS scope and the versions, not the
      // location, tier and reason strings the resolver would otherwise encode and this side decode.
      queries.push({ queryId: p.id, clientIp: p.query.clientIp, ecsSubnet: p.query.ecsSubnet, domain: p.query.domain });
    }
    batch = [];
    if (queries.length === 0) return;
    // The batch span's context rides in the batch, so the resolver's span for it can link to it.
    const traceparent = traced.length > 0 ? traceBatch(traced, queries.length, options.targets[s.target]!) : '';
    s.queue.push({ queries, traceparent });
  };

  /**
   * One batch carries many DNS queries, so it cannot be the child of each: its span links to every
   * sampled query's span (the OpenTelemetry pattern for batching) and is the child of the first,
   * so a sampled query always brings its batch into the trace (ParentBased sampling).
   */
  const traceBatch = (traced: Pending[], size: number, target: string): string => {
    const span = tracer.startSpan(
      SpanNames.dnsDecisionBatch,
      { kind: SpanKind.CLIENT, links: traced.map((p) => ({ context: p.query.trace! })), attributes: { 'cdn.batch_size': size, 'cdn.dns.traced_queries': traced.length, 'server.address': target } },
      trace.setSpanContext(context.active(), traced[0]!.query.trace!),
    );
    const bt: BatchTrace = { span, open: traced.length };
    for (const p of traced) p.batchTrace = bt;
    return traceparentOf(span);
  };

  const scheduleFlush = (): void => {
    if (batch.length >= batchSize) {
      flushScheduled?.cancel();
      flush();
      return;
    }
    if (flushScheduled) return;
    if (flushDelayMs === 0) {
      const handle = setImmediate(flush);
      flushScheduled = { cancel: () => clearImmediate(handle) };
    } else {
      const handle = setTimeout(flush, flushDelayMs);
      flushScheduled = { cancel: () => clearTimeout(handle) };
    }
  };

  const sweep = (): void => {
    sweepTimer = undefined;
    const t = now();
    for (let p = pending.first(); p !== undefined && p.deadlineAt <= t; p = pending.first()) {
      settle(p, { ok: false, code: Status.DEADLINE_EXCEEDED, message: `no decision within ${deadlineMs} ms`, transport: true });
    }
    // A stream that has said nothing for stallMs while queries wait on it is hung (a stopped
    // process, a black-holed network): fail it over rather than wait for TCP to notice.
    const s = stream;
    if (s && !s.closed && t - s.lastReceivedAt > stallMs) {
      for (const p of pending.list()) {
        if (p.stream === s && t - p.sentAt > stallMs) {
          s.abort.abort();
          break;
        }
      }
    }
    armSweep();
  };
  const armSweep = (): void => {
    if (sweepTimer || pending.size === 0 || closed) return;
    sweepTimer = setTimeout(sweep, Math.max(5, Math.min(50, deadlineMs / 4)));
  };

  return {
    decide(query) {
      if (closed) return Promise.resolve({ ok: false, code: Status.CANCELLED, message: 'dns-gateway is stopping', transport: true });
      return new Promise<DecisionOutcome>((resolve) => {
        const id = nextId++;
        const p: Pending = { id, batchTrace: undefined, query, deadlineAt: now() + deadlineMs, sentAt: 0, stream: undefined, resolve };
        pending.add(p);
        batch.push(p);
        scheduleFlush();
        armSweep();
      });
    },
    get target() {
      return options.targets[active]!;
    },
    get pending() {
      return pending.size;
    },
    async close() {
      closed = true;
      flushScheduled?.cancel();
      flushScheduled = undefined;
      if (sweepTimer) clearTimeout(sweepTimer);
      for (const p of pending.list()) settle(p, { ok: false, code: Status.CANCELLED, message: 'dns-gateway is stopping', transport: true });
      const s = stream;
      stream = undefined;
      if (s && !s.closed) {
        s.queue.end();
        s.abort.abort();
        await s.ended;
      }
      for (const c of channels) c.close();
    },
  };
}
