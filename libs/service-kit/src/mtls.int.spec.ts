import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { serviceDefinitions, reflectionFiles, type ResolveRequest } from '@cdn-sched/proto';
import { createThrowawayPki, createTransport, peerIdentities, type ThrowawayPki, type Transport } from '@cdn-sched/transport';
import { createChannel, createClient, Metadata, Status, type ServiceImplementation } from 'nice-grpc';
import { HealthDefinition } from 'nice-grpc-server-health/lib/proto/grpc/health/v1/health.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServiceServer, type DirectUnaryMethod, type ServiceServer } from './index.js';

/** Answers Status with the caller's verified identities, and echoes ResolveStream batches. */
const echo: ServiceImplementation<typeof serviceDefinitions.resolver> = {
  async resolve(request) {
    return { queryId: request.queryId };
  },
  async *resolveStream(requests) {
    for await (const batch of requests) yield { decisions: batch.queries.map((q) => ({ queryId: q.queryId })) };
  },
  async status(_request, context) {
    return { service: peerIdentities(context.metadata).join(',') };
  },
};

/** The CN of the certificate the server presents to a new TLS connection. */
async function presentedCn(port: number, pki: ThrowawayPki, client: { certFile: string; keyFile: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(pki.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile), ALPNProtocols: ['h2'] }, () => {
      const cn = socket.getPeerCertificate().subject.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.on('error', reject);
  });
}

describe('mutual TLS on a service server (real grpc-js, openssl-made certificates)', () => {
  let dir: string;
  let pki: ThrowawayPki;
  let otherPki: ThrowawayPki;
  let server: ServiceServer | undefined;
  const transports: Transport[] = [];
  const channels: { close(): void }[] = [];
  const tlsClient = (name: string, p = pki, options: Parameters<ThrowawayPki['issue']>[1] = {}): Transport => {
    const files = p.issue(name, options);
    const t = createTransport({ tls: { caFile: pki.caFile, ...files, reloadIntervalMs: 100 } });
    transports.push(t);
    return t;
  };
  const resolverClient = (t: Transport, address: string) => {
    const channel = t.channel(address);
    channels.push(channel);
    return createClient(serviceDefinitions.resolver, channel);
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mtls-'));
    pki = createThrowawayPki(join(dir, 'ca'));
    otherPki = createThrowawayPki(join(dir, 'other-ca'), 'another CA');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(async () => {
    for (const c of channels.splice(0)) c.close();
    await server?.close();
    server = undefined;
    for (const t of transports.splice(0)) t.close();
  });

  const start = async (serverTransport: Transport, directUnary: DirectUnaryMethod<never, unknown>[] = []): Promise<ServiceServer> => {
    server = await startServiceServer({
      port: 0,
      transport: serverTransport,
      directUnary,
      register: (s) => s.add(serviceDefinitions.resolver, echo),
      reflection: [reflectionFiles.resolver],
      serviceNames: ['cdn.sched.v1.ResolverService'],
    });
    server.setServing(true);
    return server;
  };
  const serverTransport = (allowedClients: string[] = []): Transport => {
    const t = createTransport({ tls: { caFile: pki.caFile, ...pki.issue('resolver'), reloadIntervalMs: 100 }, allowedClients });
    transports.push(t);
    return t;
  };

  it('accepts a client certificate from the CA and hands its identity to the handler', async () => {
    const s = await start(serverTransport());
    const client = resolverClient(tlsClient('prober-1'), s.address);
    expect((await client.status({})).service.split(',')).toEqual(expect.arrayContaining(['prober-1', 'localhost']));
  });

  it('refuses plaintext, TLS without a client certificate, another CA, and an expired certificate', async () => {
    const s = await start(serverTransport());
    const deadline = () => ({ signal: AbortSignal.timeout(5000) });
    const plaintext = createClient(serviceDefinitions.resolver, createChannel(s.address));
    await expect(plaintext.status({}, deadline())).rejects.toMatchObject({ code: Status.UNAVAILABLE });

    const noCert = createClient(serviceDefinitions.resolver, createChannel(s.address, grpcCredentials.createSsl(readFileSync(pki.caFile)), { 'grpc.ssl_target_name_override': 'localhost' }));
    await expect(noCert.status({}, deadline())).rejects.toMatchObject({ code: Status.UNAVAILABLE });

    // Issued by another CA, but trusting ours for the server: the server must refuse it.
    const strangerFiles = otherPki.issue('prober-1');
    const stranger = createTransport({ tls: { caFile: pki.caFile, ...strangerFiles } });
    transports.push(stranger);
    await expect(resolverClient(stranger, s.address).status({}, deadline())).rejects.toMatchObject({ code: Status.UNAVAILABLE });

    const expired = tlsClient('prober-old', pki, { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-01-02T00:00:00Z') });
    await expect(resolverClient(expired, s.address).status({}, deadline())).rejects.toMatchObject({ code: Status.UNAVAILABLE });

    // The server still serves a good client after all that.
    expect((await resolverClient(tlsClient('cdnctl'), s.address).status({}, deadline())).service).toContain('cdnctl');
  });

  it('a client sent identity header is replaced by the verified one', async () => {
    const s = await start(serverTransport());
    const client = resolverClient(tlsClient('prober-2'), s.address);
    const res = await client.status({}, { metadata: Metadata({ 'x-cdn-peer-identity': 'weight-calculator' }) });
    expect(res.service.split(',')).not.toContain('weight-calculator');
    expect(res.service.split(',')).toContain('prober-2');
  });

  it('allow-list: other identities get PERMISSION_DENIED, health stays open', async () => {
    const s = await start(serverTransport(['cdnctl', 'dns-gateway-*']));
    const prober = tlsClient('prober-1');
    await expect(resolverClient(prober, s.address).resolve({ queryId: 1n })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    const channel = prober.channel(s.address);
    channels.push(channel);
    expect((await createClient(HealthDefinition, channel).check({ service: '' })).status).toBe(1);
    expect((await resolverClient(tlsClient('dns-gateway-7'), s.address).resolve({ queryId: 2n })).queryId).toBe(2n);
    expect((await resolverClient(tlsClient('cdnctl'), s.address).resolve({ queryId: 3n })).queryId).toBe(3n);
  });

  it('allow-list and verified identity hold for a direct unary method too (it runs after the peer-identity check)', async () => {
    const answered: string[][] = [];
    const direct: DirectUnaryMethod<ResolveRequest, { queryId: bigint }> = {
      path: serviceDefinitions.resolver.resolve.path,
      answer(request, metadata) {
        answered.push(peerIdentities(metadata));
        return { ok: true, response: { queryId: request.queryId * 10n } };
      },
    };
    const s = await start(serverTransport(['cdnctl', 'dns-gateway-*']), [direct as DirectUnaryMethod<never, unknown>]);
    await expect(resolverClient(tlsClient('prober-1'), s.address).resolve({ queryId: 1n })).rejects.toMatchObject({ code: Status.PERMISSION_DENIED });
    expect(answered).toEqual([]);
    const gateway = resolverClient(tlsClient('dns-gateway-7'), s.address);
    expect((await gateway.resolve({ queryId: 2n }, { metadata: Metadata({ 'x-cdn-peer-identity': 'cdnctl' }) })).queryId).toBe(20n);
    expect(answered).toHaveLength(1);
    expect(answered[0]).toContain('dns-gateway-7');
    expect(answered[0]).not.toContain('cdnctl');
  });

  it('a rotated certificate (files swapped like a Kubernetes Secret volume) serves new connections; an open stream carries on', async () => {
    // Kubernetes layout: tls.crt -> ..data/tls.crt, ..data -> ..2026_01_01 (swapped atomically).
    const vol = join(dir, 'volume');
    const first = pki.issue('resolver', { fileStem: 'resolver-v1' });
    const second = pki.issue('resolver-rotated', { fileStem: 'resolver-v2', dnsNames: ['resolver'] });
    const stage = (name: string, files: { certFile: string; keyFile: string }): void => {
      const d = join(vol, name);
      rmSync(d, { recursive: true, force: true });
      mkdirSync(d, { recursive: true });
      copyFileSync(files.certFile, join(d, 'tls.crt'));
      copyFileSync(files.keyFile, join(d, 'tls.key'));
      copyFileSync(pki.caFile, join(d, 'ca.crt'));
    };
    stage('..v1', first);
    symlinkSync('..v1', join(vol, '..data'));
    for (const f of ['tls.crt', 'tls.key', 'ca.crt']) symlinkSync(join('..data', f), join(vol, f));
    const st = createTransport({ tls: { caFile: join(vol, 'ca.crt'), certFile: join(vol, 'tls.crt'), keyFile: join(vol, 'tls.key'), reloadIntervalMs: 100 } });
    transports.push(st);
    const s = await start(st);
    const clientFiles = pki.issue('cdnctl', { fileStem: 'cdnctl-rot' });
    const client = resolverClient(tlsClient('cdnctl', pki, { fileStem: 'cdnctl-rot' }), s.address);

    // Open a stream and keep it open across the rotation.
    const queue: bigint[] = [];
    let wake: (() => void) | undefined;
    async function* batches() {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        yield { queries: [{ queryId: queue.shift()! }] };
      }
    }
    const abort = new AbortController();
    const responses = client.resolveStream(batches(), { signal: abort.signal })[Symbol.asyncIterator]();
    const send = async (id: bigint): Promise<bigint> => {
      queue.push(id);
      wake?.();
      const next = await responses.next();
      return next.value!.decisions[0]!.queryId;
    };
    expect(await send(1n)).toBe(1n);
    expect(await presentedCn(s.port, pki, clientFiles)).toBe('resolver');

    stage('..v2', second);
    symlinkSync('..v2', join(vol, '..data.tmp'));
    renameSync(join(vol, '..data.tmp'), join(vol, '..data'));
    const until = Date.now() + 10_000;
    while ((await presentedCn(s.port, pki, clientFiles)) !== 'resolver-rotated') {
      if (Date.now() > until) throw new Error('rotated certificate not served within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await send(2n)).toBe(2n);
    expect(await send(3n)).toBe(3n);
    abort.abort();
    await responses.return?.(undefined).catch(() => undefined);
    // And a new gRPC connection works against the new certificate.
    expect((await resolverClient(tlsClient('cdnctl-2'), s.address).status({})).service).toContain('cdnctl-2');
  });

  it('refuses to start plaintext on a non-loopback address with requireTls, warns without', async () => {
    const t = createTransport({ requireTls: true });
    expect(() => t.checkBind('0.0.0.0')).toThrow(/plaintext and reachable from other hosts.*--require-tls/);
    expect(t.checkBind('127.0.0.1')).toBeUndefined();
    expect(createTransport().checkBind('0.0.0.0')).toMatch(/plaintext/);
    expect(createTransport().checkBind('::1')).toBeUndefined();
  });
});
