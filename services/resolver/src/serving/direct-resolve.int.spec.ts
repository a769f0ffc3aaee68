import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createGeoIpProvider, type GeoIpProvider } from '@cdn-sched/geoip';
import { reflectionFiles, ResolveRequestSchema, ResolveStreamRequestSchema, ResolveStreamResponseSchema, Strategy, Tier } from '@cdn-sched/proto';
import { startServiceServer, type ServiceServer } from '@cdn-sched/service-kit';
import { createSeededUniform } from '@cdn-sched/testing';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRoutingTable } from '../decision/index.js';
import { makeDomain, makeNode } from '../decision/fixtures.js';
import { createResolveCore } from './resolve-core.js';
import { createResolverService, resolverServiceDefinition } from './resolver-service.js';
import { createVersionTracing } from './version-tracing.js';

/** Seeded draws for the tests' queries: an integer below `n`, an IPv4 address. */
function draws(seed: number): { int: (n: number) => number; ip: () => string } {
  const random = createSeededUniform(seed);
  const int = (n: number): number => Math.floor(random() * n);
  return { int, ip: () => `${1 + int(222)}.${int(256)}.${int(256)}.${int(256)}` };
}

/** One unary call's outcome on the wire: the reply bytes, or the status and its details. */
type Outcome = { bytes: string } | { code: number; details: string };

describe('unary Resolve and ResolveStream answered directly: the same bytes and statuses as the nice-grpc handlers (real servers on port 0)', () => {
  let geo: GeoIpProvider;
  const servers: ServiceServer[] = [];
  const clients: grpc.Client[] = [];

  const table = buildRoutingTable({
    nodes: [
      makeNode('gd-ct-1', { country: 'CN', region: 'CN-GD', isp: 'ct', pools: ['p'] }),
      makeNode('gd-ct-2', { country: 'CN', region: 'CN-GD', isp: 'ct', pools: ['p'] }),
      makeNode('bj-cu-1', { country: 'CN', region: 'CN-BJ', isp: 'cu', pools: ['p'] }),
      makeNode('us-1', { country: 'US', region: '', isp: '', pools: ['p'] }),
    ],
    domains: [
      makeDomain('w.example', { pool: 'p', answers: 2, strategy: Strategy.WEIGHTED, fallback: [Tier.ISP_REGION, Tier.REGION, Tier.COUNTRY, Tier.ANY] }),
      makeDomain('c.example', { pool: 'p', answers: 1, strategy: Strategy.CONSISTENT, fallback: [Tier.ISP_REGION, Tier.COUNTRY] }),
    ],
    configVersion: 3n,
    weightsVersion: 5n,
  });

  /** A resolver server over its own core (same seed: the same draws for the same sequence of queries). */
  async function start(direct: boolean): Promise<grpc.Client> {
    const core = createResolveCore({ table: () => table, geo: () => geo.database, stale: () => false, seed: 7 });
    const service = createResolverService({ core, state: { table, versionTracing: createVersionTracing() } as never, instanceId: 'direct-test', traceRatio: 0, maxBatch: 50 });
    const server = await startServiceServer({
      port: 0,
      register: (s) => s.add(resolverServiceDefinition, service),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
      directUnary: direct ? [service.directResolve] : [],
      directStream: direct ? [service.directResolveStream] : [],
    });
    servers.push(server);
    const client = new grpc.Client(server.address, grpc.credentials.createInsecure());
    clients.push(client);
    return client;
  }

  const call = (client: grpc.Client, request: Buffer): Promise<Outcome> =>
    new Promise((resolve) => {
      const identity = (b: Buffer): Buffer => b;
      client.makeUnaryRequest(resolverServiceDefinition.resolve.path, identity, identity, request, (error: grpc.ServiceError | null, reply?: Buffer) =>
        resolve(error ? { code: error.code, details: error.details } : { bytes: reply!.toString('hex') }),
      );
    });

  beforeAll(async () => {
    geo = await createGeoIpProvider();
  }, 120_000);
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.close(0);
    geo?.close();
  });

  it('over 600 queries: located, ECS, compact, unknown domains, bad addresses and malformed bytes', async () => {
    const [direct, nice] = [await start(true), await start(false)];
    const { int, ip } = draws(21);
    const requests: Buffer[] = [];
    for (let i = 0; i < 600; i++) {
      const kind = int(10);
      if (kind === 0) {
        // Malformed: a valid request cut short, or with a wrong wire type.
        const bytes = toBinary(ResolveRequestSchema, create(ResolveRequestSchema, { queryId: BigInt(i), clientIp: ip(), domain: 'w.example' }));
        requests.push(Buffer.from(int(2) === 0 ? bytes.subarray(0, bytes.length - 3) : Uint8Array.of(0x0d, ...bytes)));
        continue;
      }
      requests.push(
        Buffer.from(
          toBinary(
            ResolveRequestSchema,
            create(ResolveRequestSchema, {
              queryId: BigInt(i * 1_000_003),
              clientIp: kind === 1 ? '300.1.2.3' : kind === 2 ? `2001:db8::${i.toString(16)}` : ip(),
              ecsSubnet: kind === 3 ? `${ip()}/24` : '',
              domain: kind === 4 ? 'unknown.example' : int(2) === 0 ? 'w.example' : 'c.example',
              answers: int(3),
              compact: int(2) === 0,
            }),
          ),
        ),
      );
    }
    const directOutcomes: Outcome[] = [];
    const niceOutcomes: Outcome[] = [];
    for (const request of requests) {
      directOutcomes.push(await call(direct, request));
      niceOutcomes.push(await call(nice, request));
    }
    expect(directOutcomes).toEqual(niceOutcomes);
    // The comparison covers answers and each kind of refusal.
    const codes = new Set(niceOutcomes.map((o) => ('code' in o ? o.code : 0)));
    expect([...codes].sort()).toEqual(expect.arrayContaining([0, grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND]));
    expect(niceOutcomes.filter((o) => 'bytes' in o).length).toBeGreaterThan(300);
  });

  /** One ResolveStream call's outcome on the wire: each reply's bytes, then the status and its details. */
  const stream = (client: grpc.Client, batches: readonly Buffer[]): Promise<{ replies: string[]; code: number; details: string }> =>
    new Promise((resolve) => {
      const identity = (b: Buffer): Buffer => b;
      const replies: string[] = [];
      const call = client.makeBidiStreamRequest(resolverServiceDefinition.resolveStream.path, identity, identity);
      call.on('data', (reply: Buffer) => replies.push(reply.toString('hex')));
      call.on('error', () => undefined);
      call.on('status', (status: grpc.StatusObject) => resolve({ replies, code: status.code, details: status.details }));
      for (const b of batches) call.write(b);
      call.end();
    });

  it('ResolveStream over 40 batches of mixed queries, then each refusal that ends a stream', async () => {
    const [direct, nice] = [await start(true), await start(false)];
    const { int, ip } = draws(23);
    const batch = (size: number, from: number): Buffer =>
      Buffer.from(
        toBinary(
          ResolveStreamRequestSchema,
          create(ResolveStreamRequestSchema, {
            queries: Array.from({ length: size }, (_, i) => {
              const kind = int(8);
              return {
                queryId: BigInt((from + i) * 1_000_003),
                clientIp: kind === 1 ? '300.1.2.3' : kind === 2 ? `2001:db8::${(from + i).toString(16)}` : ip(),
                ecsSubnet: kind === 3 ? `${ip()}/24` : '',
                domain: kind === 4 ? 'unknown.example' : int(2) === 0 ? 'w.example' : 'c.example',
                answers: int(3),
                compact: int(2) === 0,
              };
            }),
          }),
        ),
      );
    const batches = Array.from({ length: 40 }, (_, b) => batch(1 + int(50), b * 100));
    const directRun = await stream(direct, batches);
    const niceRun = await stream(nice, batches);
    expect(directRun).toEqual(niceRun);
    expect(niceRun.replies.length).toBe(40);
    expect(niceRun.code).toBe(grpc.status.OK);
    // Streams at once share the service's one writer and query storage: each reply must still be
    // the one of its own batch, whole (the weighted picks differ with the order the streams
    // interleave, so the check is each reply's query ids, in order, against its batch's).
    const sets = [1, 2, 3, 4].map((s) => Array.from({ length: 30 }, (_, b) => ({ size: 1 + int(50), from: s * 10_000 + b * 100 })));
    const concurrent = await Promise.all(sets.map((set) => stream(direct, set.map((b) => batch(b.size, b.from)))));
    for (const [k, set] of sets.entries()) {
      expect(concurrent[k]!.code).toBe(grpc.status.OK);
      const ids = concurrent[k]!.replies.map((hex) => fromBinary(ResolveStreamResponseSchema, Buffer.from(hex, 'hex')).decisions.map((d) => Number(d.queryId)));
      expect(ids).toEqual(set.map((b) => Array.from({ length: b.size }, (_, i) => (b.from + i) * 1_000_003)));
    }

    // Each refusal ends the stream after the replies to the batches before it, with the same status.
    const refusals: Array<[string, Buffer]> = [
      ['empty batch', Buffer.alloc(0)],
      ['over maxBatch', batch(51, 9_000)],
      ['malformed batch', Buffer.from([0x0a, 0x7f, 0x01])],
    ];
    for (const [what, bad] of refusals) {
      const sent = [batch(3, 10_000), bad, batch(3, 11_000)];
      const d = await stream(direct, sent);
      const n = await stream(nice, sent);
      expect({ what, ...d }).toEqual({ what, ...n });
      expect({ what, replies: n.replies.length, refused: n.code !== grpc.status.OK }).toEqual({ what, replies: 1, refused: true });
    }
  });
});
