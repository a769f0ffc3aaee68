import { create } from '@bufbuild/protobuf';
import { reflectionFiles, ResolveResponseSchema, serviceDefinitions } from '@cdn-sched/proto';
import { ClientError, createChannel, createClient, ServerError, Status, type ServiceImplementation } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { reasonOf, ServiceError, startServiceServer, statusReason, type ServiceServer } from './index.js';

describe('ServiceError across a real gRPC boundary (grpc-js on port 0)', () => {
  let server: ServiceServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  it('carries status, stable reason and message to the client; the cause stays on the server; other errors do not leak', async () => {
    const thrown: ServiceError[] = [];
    const resolver: ServiceImplementation<typeof serviceDefinitions.resolver> = {
      async resolve(request) {
        if (request.domain === 'too-many') {
          const e = new ServiceError(Status.RESOURCE_EXHAUSTED, 'batch-too-large', 'batch of 600 queries is over the limit of 500; split it', { cause: new RangeError('600 > 500') });
          thrown.push(e);
          throw e;
        }
        if (request.domain === 'plain-server-error') throw new ServerError(Status.FAILED_PRECONDITION, 'not ready');
        if (request.domain === 'bug') throw new Error('secret internal state: token=abc');
        return create(ResolveResponseSchema, { queryId: request.queryId });
      },
      async *resolveStream() {},
      async status() {
        return { service: 'resolver' };
      },
    };
    server = await startServiceServer({ port: 0, register: (s) => s.add(serviceDefinitions.resolver, resolver), reflection: [reflectionFiles.resolver], serviceNames: ['cdn.sched.v1.ResolverService'] });
    const channel = createChannel(server.address);
    const client = createClient(serviceDefinitions.resolver, channel);
    try {
      const tooMany = await client.resolve({ domain: 'too-many' }).catch((e: unknown) => e);
      expect(tooMany).toBeInstanceOf(ClientError);
      expect(tooMany).toMatchObject({ code: Status.RESOURCE_EXHAUSTED, details: 'batch-too-large: batch of 600 queries is over the limit of 500; split it' });
      expect(reasonOf(tooMany)).toBe('batch-too-large');
      expect(thrown[0]!.cause).toBeInstanceOf(RangeError);
      expect(JSON.stringify((tooMany as ClientError).details)).not.toContain('600 > 500');

      // A status without a reason (another server, grpc-js itself): the status name is the reason.
      const plain = await client.resolve({ domain: 'plain-server-error' }).catch((e: unknown) => e);
      expect(reasonOf(plain)).toBe('failed-precondition');

      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.message);
      process.on('warning', onWarning);
      const bug = await client.resolve({ domain: 'bug' }).catch((e: unknown) => e);
      process.off('warning', onWarning);
      expect(bug).toMatchObject({ code: Status.UNKNOWN });
      expect((bug as ClientError).details).not.toContain('token=abc');
      expect(reasonOf(bug)).toBe('unknown');
      // ...while the server's process is told the whole story.
      expect(warnings.some((w) => w.includes('token=abc'))).toBe(true);
    } finally {
      channel.close();
    }
  });

  it('refuses a reason that is not a stable kebab-case code, and names statuses in kebab-case', () => {
    expect(() => new ServiceError(Status.INTERNAL, 'Batch Too Large', 'x')).toThrow('ServiceError reason "Batch Too Large" is not a kebab-case code');
    expect(statusReason(Status.DEADLINE_EXCEEDED)).toBe('deadline-exceeded');
    expect(reasonOf(new Error('x'))).toBeUndefined();
    const e = new ServiceError(Status.PERMISSION_DENIED, 'not-a-member', 'prober "p9" is not a current member');
    expect(e).toBeInstanceOf(ServerError);
    expect([e.code, e.reason, e.detail, e.details]).toEqual([Status.PERMISSION_DENIED, 'not-a-member', 'prober "p9" is not a current member', 'not-a-member: prober "p9" is not a current member']);
  });
});
