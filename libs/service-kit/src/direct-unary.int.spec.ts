import { reflectionFiles, serviceDefinitions, type ResolveRequest } from '@cdn-sched/proto';
import { createTransport } from '@cdn-sched/transport';
import { createChannel, createClient, Metadata, Status, type ServiceImplementation } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { directRefusal, reasonOf, startServiceServer, type DirectAnswer, type DirectUnaryMethod, type ServiceServer } from './index.js';

describe('direct unary methods (real grpc-js server on port 0)', () => {
  let server: ServiceServer | undefined;
  const channels: { close(): void }[] = [];
  afterEach(async () => {
    for (const c of channels.splice(0)) c.close();
    await server?.close(0);
    server = undefined;
  });

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

  const start = async (options: { maxReceiveMessageBytes?: number } = {}) => {
    niceCalls = 0;
    seen.length = 0;
    server = await startServiceServer({
      port: 0,
      transport: createTransport({ limits: options }),
      register: (s) => s.add(serviceDefinitions.resolver, service),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
      directUnary: [direct as DirectUnaryMethod<never, unknown>],
    });
    server.setServing(true);
    const channel = createChannel(server.address);
    channels.push(channel);
    return createClient(serviceDefinitions.resolver, channel);
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
