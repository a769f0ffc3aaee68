import { create } from '@bufbuild/protobuf';
import { reflectionFiles, ResolveResponseSchema, serviceDefinitions, Tier } from '@cdn-sched/proto';
import { createChannel, createClient, Status, type ServiceImplementation } from 'nice-grpc';
import { HealthDefinition, HealthCheckResponse_ServingStatus } from 'nice-grpc-server-health/lib/proto/grpc/health/v1/health.js';
import { ServerReflectionService } from 'nice-grpc-server-reflection';
import reflectionPb from 'nice-grpc-server-reflection/lib/proto/grpc/reflection/v1/reflection_pb.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startServiceServer, type ServiceServer } from './index.js';

const resolver: ServiceImplementation<typeof serviceDefinitions.resolver> = {
  async resolve(request) {
    if (!request.domain) throw new (await import('nice-grpc')).ServerError(Status.INVALID_ARGUMENT, 'domain: required');
    return create(ResolveResponseSchema, {
      queryId: request.queryId,
      answers: [{ nodeId: 'n1', address: '192.0.2.1', port: 443, ttlS: 30 }],
      tier: Tier.REGION,
      configVersion: 7n,
    });
  },
  async *resolveStream(requests) {
    for await (const batch of requests) {
      yield { decisions: batch.queries.map((q) => ({ queryId: q.queryId, result: { case: 'response' as const, value: { queryId: q.queryId } } })) };
    }
  },
  async status() {
    return { service: 'resolver' };
  },
};

describe('service gRPC server (real grpc-js on port 0)', () => {
  let server: ServiceServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('round-trips unary and bidi calls through the generated, typed nice-grpc client', async () => {
    server = await startServiceServer({
      port: 0,
      register: (s) => s.add(serviceDefinitions.resolver, resolver),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
    });
    expect(server.port).toBeGreaterThan(0);
    const channel = createChannel(server.address);
    const client = createClient(serviceDefinitions.resolver, channel);
    const res = await client.resolve({ queryId: 9n, clientIp: '1.0.8.1', domain: 'music.demo.example' });
    expect(res.queryId).toBe(9n);
    expect(res.answers[0]).toMatchObject({ nodeId: 'n1', address: '192.0.2.1', port: 443, ttlS: 30 });
    expect(res.tier).toBe(Tier.REGION);
    expect(res.configVersion).toBe(7n);
    await expect(client.resolve({ queryId: 1n })).rejects.toMatchObject({ code: Status.INVALID_ARGUMENT, details: 'domain: required' });

    async function* batches() {
      yield { queries: [{ queryId: 1n }, { queryId: 2n }] };
      yield { queries: [{ queryId: 3n }] };
    }
    const got: bigint[][] = [];
    for await (const b of client.resolveStream(batches())) got.push(b.decisions.map((d) => d.queryId));
    expect(got).toEqual([[1n, 2n], [3n]]);
    channel.close();
  });

  it('serves grpc.health.v1 (NOT_SERVING until ready) and server reflection', async () => {
    server = await startServiceServer({
      port: 0,
      register: (s) => s.add(serviceDefinitions.resolver, resolver),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
    });
    const channel = createChannel(server.address);
    const health = createClient(HealthDefinition, channel);
    expect((await health.check({ service: '' })).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    server.setServing(true);
    expect((await health.check({ service: 'cdn.sched.v1.ResolverService' })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);

    const reflection = createClient(ServerReflectionService, channel);
    async function* ask() {
      const list = new reflectionPb.ServerReflectionRequest();
      list.setListServices('*');
      yield list;
      const file = new reflectionPb.ServerReflectionRequest();
      file.setFileContainingSymbol('cdn.sched.v1.ResolverService');
      yield file;
    }
    const answers = [];
    for await (const a of reflection.serverReflectionInfo(ask())) answers.push(a);
    const services = answers[0]!.getListServicesResponse()!.getServiceList().map((s) => s.getName());
    expect(services).toEqual(expect.arrayContaining(['cdn.sched.v1.ResolverService', 'grpc.health.v1.Health']));
    const files = answers[1]!.getFileDescriptorResponse()!.getFileDescriptorProtoList();
    expect(files.length).toBeGreaterThanOrEqual(1);
    expect(Buffer.from(files[0] as Uint8Array).toString('latin1')).toContain('cdn/sched/v1/resolver.proto');
    channel.close();
  });
});
