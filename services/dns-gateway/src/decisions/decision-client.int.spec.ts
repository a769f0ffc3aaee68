import { create } from '@bufbuild/protobuf';
import { DecisionSchema, ResolveResponseSchema, serviceDefinitions, type ResolveStreamRequest } from '@cdn-sched/proto';
import { startGrpcServer, type TestGrpcServer } from '@cdn-sched/testing';
import { Status } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { createDecisionClient, type DecisionClient, type DecisionOutcome } from './decision-client.js';

/**
 * Real gRPC servers on port 0 speaking ResolveStream; each answers a query with its own name as
 * the node address, so a test sees which resolver decided. `mode` makes one hang (never answer).
 */
async function startResolver(name: string, state: { hang: boolean; batches: number[]; compact?: boolean[] }): Promise<TestGrpcServer> {
  return startGrpcServer((s) =>
    s.add(serviceDefinitions.resolver, {
      resolve: () => Promise.reject(new Error('unused')),
      status: () => Promise.reject(new Error('unused')),
      async *resolveStream(requests: AsyncIterable<ResolveStreamRequest>) {
        for await (const batch of requests) {
          state.batches.push(batch.queries.length);
          state.compact?.push(...batch.queries.map((q) => q.compact));
          if (state.hang) continue;
          yield {
            decisions: batch.queries.map((q) =>
              create(DecisionSchema, {
                queryId: q.queryId,
                result: q.domain === 'missing.example'
                  ? { case: 'error', value: { code: Status.NOT_FOUND, message: 'no policy' } }
                  : { case: 'response', value: create(ResolveResponseSchema, { queryId: q.queryId, answers: [{ nodeId: name, address: name, ttlS: 30 }], ecsScope: 24 }) },
              }),
            ),
          };
        }
      },
    } as never),
  );
}

const addressOf = (o: DecisionOutcome): string => (o.ok ? o.response.answers[0]!.address : `error ${o.code}`);

describe('decision client over real ResolveStream servers', () => {
  let servers: TestGrpcServer[] = [];
  let client: DecisionClient | undefined;
  afterEach(async () => {
    await client?.close();
    await Promise.all(servers.map((s) => s.close(100)));
    servers = [];
  });

  it('batches queries of one event-loop turn, matches decisions by id, passes item errors through', async () => {
    const a = { hang: false, batches: [] as number[], compact: [] as boolean[] };
    servers = [await startResolver('a', a)];
    client = createDecisionClient({ targets: [servers[0]!.address], batchSize: 50, deadlineMs: 10_000 });
    const outcomes = await Promise.all(Array.from({ length: 120 }, (_, i) => client!.decide({ clientIp: `10.0.0.${i}`, ecsSubnet: '', domain: i === 7 ? 'missing.example' : 'a.example' })));
    expect(outcomes.filter((o) => !o.ok).map((o) => JSON.stringify(o)).slice(0, 2)).toEqual([JSON.stringify(outcomes[7])]);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(119);
    expect(outcomes[7]).toMatchObject({ ok: false, code: Status.NOT_FOUND, transport: false });
    expect(a.batches).toEqual([50, 50, 20]);
    // Every query asks for the compact response: a DNS answer has no use for location and reason.
    expect(a.compact).toHaveLength(120);
    expect(a.compact.every((c) => c)).toBe(true);
  });

  it('moves the queries of a resolver that dies to the next one, within the deadline', async () => {
    const a = { hang: false, batches: [] as number[] };
    const b = { hang: false, batches: [] as number[] };
    servers = [await startResolver('a', a), await startResolver('b', b)];
    client = createDecisionClient({ targets: servers.map((s) => s.address), deadlineMs: 10_000 });
    expect(addressOf(await client.decide({ clientIp: '10.0.0.1', ecsSubnet: '', domain: 'a.example' }))).toBe('a');
    a.hang = true; // queries in flight when it dies are never answered by it
    const inFlight = Array.from({ length: 20 }, () => client!.decide({ clientIp: '10.0.0.1', ecsSubnet: '', domain: 'a.example' }));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    servers[0]!.server.forceShutdown(); // like SIGKILL: connections cut, no goodbye
    const outcomes = await Promise.all(inFlight);
    expect(outcomes.map(addressOf)).toEqual(new Array(20).fill('b'));
    // Far inside the deadline: the failure is seen when the connection drops, not by waiting.
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(client.target).toBe(servers[1]!.address);
  });

  it('fails over from a hung resolver after the stall time, and settles every query by its deadline', async () => {
    const a = { hang: true, batches: [] as number[] };
    const b = { hang: false, batches: [] as number[] };
    servers = [await startResolver('a', a), await startResolver('b', b)];
    client = createDecisionClient({ targets: servers.map((s) => s.address), deadlineMs: 4000, stallMs: 300 });
    const t0 = performance.now();
    expect(addressOf(await client.decide({ clientIp: '10.0.0.1', ecsSubnet: '', domain: 'a.example' }))).toBe('b');
    expect(performance.now() - t0).toBeLessThan(4000);
    b.hang = true;
    const t1 = performance.now();
    const late = await client.decide({ clientIp: '10.0.0.2', ecsSubnet: '', domain: 'a.example' });
    expect(late).toMatchObject({ ok: false, transport: true });
    expect(performance.now() - t1).toBeLessThan(4000 + 1000);
  });

  it('answers UNAVAILABLE at once when no resolver is reachable', async () => {
    client = createDecisionClient({ targets: ['127.0.0.1:1', '127.0.0.1:2'], deadlineMs: 5000 });
    const t0 = performance.now();
    const o = await client.decide({ clientIp: '10.0.0.1', ecsSubnet: '', domain: 'a.example' });
    expect(o).toMatchObject({ ok: false, code: Status.UNAVAILABLE, transport: true });
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
