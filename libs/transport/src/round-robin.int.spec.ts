import { createSocket, type Socket } from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';

// grpc-js asks the DNS server named in a `dns://server/name:port` target only with its
// "alternative resolver" (read from the environment when grpc-js loads), so grpc-js and everything
// that loads it are imported below, after this line.
process.env['GRPC_NODE_USE_ALTERNATIVE_RESOLVER'] = 'true';

/**
 * A tiny authoritative DNS server (RFC 1035 §4.1) for one name: A records from `addresses` (changed
 * by the test, TTL 0), empty answers for anything else.
 */
async function startDnsServer(name: string, addresses: string[]): Promise<{ port: number; socket: Socket }> {
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    let at = 12;
    const labels: string[] = [];
    while (query[at]! > 0) {
      labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString());
      at += query[at]! + 1;
    }
    const qtype = query.readUInt16BE(at + 1);
    const question = query.subarray(12, at + 5);
    const answers = qtype === 1 && labels.join('.') === name ? addresses : [];
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    header.writeUInt16BE(0x8580, 2); // QR, AA, RD, RA; NOERROR
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    const records = answers.map((a) => {
      const r = Buffer.alloc(16);
      r.writeUInt16BE(0xc00c, 0); // the name of the question
      r.writeUInt16BE(1, 2);
      r.writeUInt16BE(1, 4);
      r.writeUInt32BE(0, 6);
      r.writeUInt16BE(4, 10);
      a.split('.').forEach((octet, i) => r.writeUInt8(Number(octet), 12 + i));
      return r;
    });
    socket.send(Buffer.concat([header, question, ...records]), peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, socket };
}

describe('client-side balancing over dns:/// targets (real grpc-js DNS resolver, round_robin, max_connection_age)', () => {
  const cleanup: (() => unknown)[] = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  it('a third replica added under steady stream load receives a share of the streams', async () => {
    const { createServer, createClient, ServerError, Status } = await import('nice-grpc');
    const { serviceDefinitions } = await import('@cdn-sched/proto');
    const { getFreePort } = await import('@cdn-sched/testing');
    const { createTransport } = await import('./index.js');

    // Connections live 1 s (±10 %), then 0.5 s of grace: streams move within ~2 s of a scale-out.
    const transport = createTransport({ limits: { maxConnectionAgeMs: 1000, maxConnectionAgeGraceMs: 500 } });
    const port = await getFreePort();
    const open = new Map<string, number>();
    const startReplica = async (host: string): Promise<void> => {
      const server = createServer(transport.serverOptions as Parameters<typeof createServer>[0]);
      server.add(serviceDefinitions.resolver, {
        async resolve() {
          throw new ServerError(Status.UNIMPLEMENTED, 'streams only');
        },
        async *resolveStream(batches) {
          open.set(host, (open.get(host) ?? 0) + 1);
          try {
            for await (const b of batches) yield { decisions: b.queries.map((q) => ({ queryId: q.queryId })) };
          } finally {
            open.set(host, open.get(host)! - 1);
          }
        },
        async status() {
          return { service: host };
        },
      });
      await server.listen(`${host}:${port}`, transport.serverCredentials);
      cleanup.push(() => server.forceShutdown());
    };
    const addresses = ['127.0.0.1', '127.0.0.2'];
    await startReplica('127.0.0.1');
    await startReplica('127.0.0.2');
    const dns = await startDnsServer('resolver.test', addresses);
    cleanup.push(() => dns.socket.close());

    const channel = transport.channel(`dns://127.0.0.1:${dns.port}/resolver.test:${port}`);
    cleanup.push(() => channel.close());
    const client = createClient(serviceDefinitions.resolver, channel);
    // 30 long-lived streams, each sending a batch every 50 ms and opened again when its connection
    // goes away (as a DNS gateway keeps its streams).
    const stop = new AbortController();
    const STREAMS = 30;
    const loops = Array.from({ length: STREAMS }, async () => {
      while (!stop.signal.aborted) {
        async function* batches() {
          for (let id = 1n; !stop.signal.aborted; id++) {
            yield { queries: [{ queryId: id }] };
            await new Promise((r) => setTimeout(r, 50));
          }
        }
        try {
          for await (const reply of client.resolveStream(batches(), { signal: stop.signal })) void reply;
        } catch {
          // GOAWAY after max_connection_age, or the test's stop: open the stream again.
        }
      }
    });
    cleanup.push(async () => {
      stop.abort();
      await Promise.all(loops);
    });
    const total = (): number => [...open.values()].reduce((a, b) => a + b, 0);
    const until = async (ok: () => boolean, ms: number, what: string): Promise<number> => {
      const t0 = performance.now();
      while (!ok()) {
        if (performance.now() - t0 > ms) throw new Error(`${what} not within ${ms} ms: ${JSON.stringify([...open])}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return performance.now() - t0;
    };
    await until(() => total() === STREAMS && (open.get('127.0.0.2') ?? 0) > 0 && (open.get('127.0.0.1') ?? 0) > 0, 15_000, 'streams over both replicas');

    // Scale out: a third replica, published in DNS.
    await startReplica('127.0.0.3');
    addresses.push('127.0.0.3');
    const tookMs = await until(() => (open.get('127.0.0.3') ?? 0) >= STREAMS / 6, 15_000, 'a share of the streams on the third replica');
    console.log(`third replica reached ${open.get('127.0.0.3')}/${total()} open streams ${Math.round(tookMs)} ms after it was added`);
    expect(open.get('127.0.0.3')).toBeGreaterThanOrEqual(STREAMS / 6);
  }, 60_000);
});
