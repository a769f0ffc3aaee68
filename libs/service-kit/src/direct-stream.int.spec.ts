import { reflectionFiles, serviceDefinitions, type ResolveStreamRequest, type ResolveStreamResponse } from '@cdn-sched/proto';
import { createTransport } from '@cdn-sched/transport';
import { createChannel, createClient, Metadata, Status, type ServiceImplementation } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { directRefusal, reasonOf, startServiceServer, type DirectAnswer, type DirectStreamMethod, type ServiceServer } from './index.js';

type Batch = { queries: { queryId: bigint }[] };

describe('direct streaming methods (real grpc-js server on port 0)', () => {
  let server: ServiceServer | undefined;
  const channels: { close(): void }[] = [];
  afterEach(async () => {
    for (const c of channels.splice(0)) c.close();
    await server?.close(0);
    server = undefined;
  });

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

  const start = async (options: { maxReceiveMessageBytes?: number } = {}) => {
    niceBatches = 0;
    answered.length = 0;
    server = await startServiceServer({
      port: 0,
      transport: createTransport({ limits: options }),
      register: (s) => s.add(serviceDefinitions.resolver, service),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
      directStream: [direct as DirectStreamMethod<never, unknown>],
    });
    server.setServing(true);
    const channel = createChannel(server.address);
    channels.push(channel);
    return createClient(serviceDefinitions.resolver, channel);
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
