import { reflectionFiles, serviceDefinitions, type ResolveRequest, type ResolveStreamRequest, type ResolveStreamResponse } from '@cdn-sched/proto';
import { createTransport } from '@cdn-sched/transport';
import { createChannel, createClient, Metadata, Status, type ServiceImplementation } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import {
  directRefusal,
  reasonOf,
  startServiceServer,
  type DirectAnswer,
  type DirectStreamMethod,
  type DirectUnaryMethod,
  type ServiceServer,
  type ServiceServerOptions,
} from './index.js';

/** Servers and channels of a test, closed after it. */
const servers: ServiceServer[] = [];
const channels: { close(): void }[] = [];
afterEach(async () => {
  for (const c of channels.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close(0);
});

/** A resolver service server on port 0 with `service` and the direct methods given, and a client of it. */
async function startResolver(
  service: ServiceImplementation<typeof serviceDefinitions.resolver>,
  direct: Pick<ServiceServerOptions, 'directUnary' | 'directStream'>,
  limits: { maxReceiveMessageBytes?: number } = {},
) {
  const server = await startServiceServer({
    port: 0,
    transport: createTransport({ limits }),
    register: (s) => s.add(serviceDefinitions.resolver, service),
    reflection: [reflectionFiles.resolver],
    serviceNames: ['cdn.sched.v1.ResolverService'],
    ...direct,
  });
  servers.push(server);
  server.setServing(true);
  const channel = createChannel(server.address);
  channels.push(channel);
  return createClient(serviceDefinitions.resolver, channel);
}

describe('direct unary methods (real grpc-js server on port 0)', () => {
  /** The nice-grpc handlers: Resolve answers 1,000 + the query id, so a test sees which path answered. */
  let niceCalls = 0;
  const service: ServiceImplementation<typeof serviceDefinitions.resolver> = {
    async resolve(request) {
      niceCalls++;
      return { queryId: request.queryId + 1000n };
    },
    async *resolveStream(requests) {
      for await (const batch of requests) yield { decisions: batch.queries.map((q) => ({ queryId: q.queryId })) };
    },
    async status() {
      return { service: 'nice' };
    },
  };

  /** Resolve answered directly: the query id + 1, a refusal for id 7, a throw for id 8, the `x-echo` header as the reason. */
  const seen: { queryId: bigint; echo: unknown[] }[] = [];
  const direct: DirectUnaryMethod<ResolveRequest, { queryId: bigint; reason: string }> = {
    path: serviceDefinitions.resolver.resolve.path,
    answer(request, metadata): DirectAnswer<{ queryId: bigint; reason: string }> {
      seen.push({ queryId: request.queryId, echo: metadata.get('x-echo') });
      if (request.queryId === 7n) return directRefusal(Status.NOT_FOUND, 'no-such-domain', `no policy for ${request.domain}`);
      if (request.queryId === 8n) throw new Error('internal detail that must not reach the client');
      return { ok: true, response: { queryId: request.queryId + 1n, reason: String(metadata.get('x-echo')[0] ?? '') } };
    },
  };

  const start = async (limits: { maxReceiveMessageBytes?: number } = {}) => {
    niceCalls = 0;
    seen.length = 0;
    return startResolver(service, { directUnary: [direct as DirectUnaryMethod<never, unknown>] }, limits);
  };

  it('answers the method itself, with the request as the definition decodes it and the metadata the caller sent', async () => {
    const client = await start();
    const responses = await Promise.all([1n, 2n, 3n].map((id) => client.resolve({ queryId: id, domain: 'a.example' }, { metadata: Metadata({ 'x-echo': `call-${id}` }) })));
    expect(responses.map((r) => [r.queryId, r.reason])).toEqual([
      [2n, 'call-1'],
      [3n, 'call-2'],
      [4n, 'call-3'],
    ]);
    expect(seen.map((s) => s.queryId).sort()).toEqual([1n, 2n, 3n]);
    expect(niceCalls).toBe(0);
  });

  it('sends a refusal as the status a ServiceError would, and a throw as UNKNOWN without its message', async () => {
    const client = await start();
    const refused = await client.resolve({ queryId: 7n, domain: 'x.example' }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: Status.NOT_FOUND, details: 'no-such-domain: no policy for x.example' });
    expect(reasonOf(refused)).toBe('no-such-domain');
    const thrown = await client.resolve({ queryId: 8n }).catch((e: unknown) => e);
    expect(thrown).toMatchObject({ code: Status.UNKNOWN, details: 'Unknown error' });
    // The server carries on.
    expect((await client.resolve({ queryId: 9n })).queryId).toBe(10n);
    expect(niceCalls).toBe(0);
  });

  it("leaves the service's other methods to their nice-grpc handlers", async () => {
    const client = await start();
    expect((await client.status({})).service).toBe('nice');
    async function* batches() {
      yield { queries: [{ queryId: 5n }, { queryId: 6n }] };
    }
    const replies = [];
    for await (const reply of client.resolveStream(batches())) replies.push(reply.decisions.map((d) => d.queryId));
    expect(replies).toEqual([[5n, 6n]]);
    expect(seen).toEqual([]);
  });

  it("keeps grpc-js's limits below the handler: an oversized request is refused before the method sees it", async () => {
    const client = await start({ maxReceiveMessageBytes: 1024 });
    const big = await client.resolve({ queryId: 1n, domain: 'x'.repeat(4096) }).catch((e: unknown) => e);
    expect(big).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
    expect(seen).toEqual([]);
    expect((await client.resolve({ queryId: 1n, domain: 'a.example' })).queryId).toBe(2n);
  });
});

/** A ResolveStream request as the tests build it. */
type Batch = { queries: { queryId: bigint }[] };

describe('direct streaming methods (real grpc-js server on port 0)', () => {
  /** The nice-grpc handlers: ResolveStream answers 1,000 + each query id, so a test sees which path answered. */
  let niceBatches = 0;
  const service: ServiceImplementation<typeof serviceDefinitions.resolver> = {
    async resolve(request) {
      return { queryId: request.queryId };
    },
    async *resolveStream(requests) {
      for await (const batch of requests) {
        niceBatches++;
        yield { decisions: batch.queries.map((q) => ({ queryId: q.queryId + 1000n })) };
      }
    },
    async status() {
      return { service: 'nice' };
    },
  };

  /**
   * ResolveStream answered directly: each query id + 1, the first query's id + the `x-shift` header
   * for the batch's first decision; a refusal for a batch holding id 7, a throw for id 8.
   */
  const answered: bigint[][] = [];
  const direct: DirectStreamMethod<ResolveStreamRequest, Partial<ResolveStreamResponse>> = {
    path: serviceDefinitions.resolver.resolveStream.path,
    answer(request, metadata): DirectAnswer<Partial<ResolveStreamResponse>> {
      const ids = request.queries.map((q) => q.queryId);
      answered.push(ids);
      if (ids.includes(7n)) return directRefusal(Status.INVALID_ARGUMENT, 'bad-batch', `batch ${answered.length} holds query 7`);
      if (ids.includes(8n)) throw new Error('internal detail that must not reach the client');
      const shift = BigInt(String(metadata.get('x-shift')[0] ?? '0'));
      return { ok: true, response: { decisions: ids.map((id, i) => ({ queryId: id + 1n + (i === 0 ? shift : 0n) })) } as Partial<ResolveStreamResponse> };
    },
  };

  const start = async (limits: { maxReceiveMessageBytes?: number } = {}) => {
    niceBatches = 0;
    answered.length = 0;
    return startResolver(service, { directStream: [direct as DirectStreamMethod<never, unknown>] }, limits);
  };

  async function* batchesOf(batches: readonly Batch[]) {
    for (const b of batches) yield b;
  }
  const idsOf = (batches: number, size: number, from = 100): Batch[] =>
    Array.from({ length: batches }, (_, b) => ({ queries: Array.from({ length: size }, (_, i) => ({ queryId: BigInt(from + b * size + i) })) }));

  it('answers every message in order, with the metadata the caller sent, and ends the call with OK', async () => {
    const client = await start();
    // Far more batches than the interceptor keeps in flight, sent as fast as the client can.
    const sent = idsOf(300, 5);
    const replies: bigint[][] = [];
    for await (const reply of client.resolveStream(batchesOf(sent), { metadata: Metadata({ 'x-shift': '10' }) })) {
      replies.push(reply.decisions.map((d) => d.queryId));
    }
    expect(replies).toEqual(sent.map((b) => b.queries.map((q, i) => q.queryId + 1n + (i === 0 ? 10n : 0n))));
    expect(answered.length).toBe(300);
    expect(niceBatches).toBe(0);
  });

  it('ends the call with a refusal as a ServiceError would, after the replies already sent, and a throw as UNKNOWN', async () => {
    const client = await start();
    const replies: bigint[][] = [];
    const refused = await (async () => {
      for await (const reply of client.resolveStream(batchesOf([...idsOf(3, 2), { queries: [{ queryId: 7n }] }, ...idsOf(3, 2, 500)]))) {
        replies.push(reply.decisions.map((d) => d.queryId));
      }
    })().catch((e: unknown) => e);
    expect(replies).toEqual([
      [101n, 102n],
      [103n, 104n],
      [105n, 106n],
    ]);
    expect(refused).toMatchObject({ code: Status.INVALID_ARGUMENT, details: 'bad-batch: batch 4 holds query 7' });
    expect(reasonOf(refused)).toBe('bad-batch');
    // Nothing after the refusal was answered.
    expect(answered.length).toBe(4);

    const thrown = await (async () => {
      for await (const _ of client.resolveStream(batchesOf([{ queries: [{ queryId: 8n }] }]))) void _;
    })().catch((e: unknown) => e);
    expect(thrown).toMatchObject({ code: Status.UNKNOWN, details: 'Unknown error' });
    // The server carries on.
    const after: bigint[][] = [];
    for await (const reply of client.resolveStream(batchesOf(idsOf(2, 1)))) after.push(reply.decisions.map((d) => d.queryId));
    expect(after).toEqual([[101n], [102n]]);
  });

  it('lets a client cancel mid-stream, and answers the next call', async () => {
    const client = await start();
    const abort = new AbortController();
    let got = 0;
    async function* endless() {
      for (let i = 0; ; i++) {
        yield { queries: [{ queryId: BigInt(i) + 10_000n }] };
        await new Promise((r) => setTimeout(r, 1));
      }
    }
    const cancelled = await (async () => {
      for await (const _ of client.resolveStream(endless(), { signal: abort.signal })) {
        void _;
        if (++got === 20) abort.abort();
      }
    })().catch((e: unknown) => e);
    expect((cancelled as Error).name).toBe('AbortError');
    expect(got).toBe(20);
    const replies: bigint[][] = [];
    for await (const reply of client.resolveStream(batchesOf(idsOf(1, 3)))) replies.push(reply.decisions.map((d) => d.queryId));
    expect(replies).toEqual([[101n, 102n, 103n]]);
  });

  it("leaves the service's other methods to their nice-grpc handlers, and keeps grpc-js's size limit below the method", async () => {
    const client = await start({ maxReceiveMessageBytes: 1024 });
    expect((await client.status({})).service).toBe('nice');
    expect((await client.resolve({ queryId: 3n })).queryId).toBe(3n);
    const big = await (async () => {
      for await (const _ of client.resolveStream(batchesOf(idsOf(1, 400)))) void _;
    })().catch((e: unknown) => e);
    expect(big).toMatchObject({ code: Status.RESOURCE_EXHAUSTED });
    expect(answered).toEqual([]);
    expect(niceBatches).toBe(0);
  });
});
