import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startMetricsServer, type MetricsServer, type MetricsServerOptions, type Readiness } from './metrics-server.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function fetchText(url: string, init: { method?: string; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', agent: init.agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(5_000, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

const servers: MetricsServer[] = [];
async function start(options: Partial<MetricsServerOptions> = {}): Promise<MetricsServer> {
  const server = await startMetricsServer({ port: 0, registry: options.registry ?? new Registry(), ...options });
  servers.push(server);
  return server;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('startMetricsServer', () => {
  it('binds 127.0.0.1 on a free port when asked for port 0', async () => {
    const server = await start();
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('serves /metrics in the Prometheus text format', async () => {
    const registry = new Registry();
    new Gauge({ name: 'answers_in_flight', help: 'In flight.', registers: [registry] }).set(4);
    const server = await start({ registry });
    const reply = await fetchText(`${server.url}/metrics`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(reply.body).toContain('# HELP answers_in_flight In flight.\n# TYPE answers_in_flight gauge\nanswers_in_flight 4\n');
  });

  it('answers 500 when collecting a metric fails, and keeps serving', async () => {
    const registry = new Registry();
    new Gauge({
      name: 'broken',
      help: 'Throws on collect.',
      registers: [registry],
      collect() {
        throw new Error('sensor gone');
      },
    });
    const server = await start({ registry });
    const reply = await fetchText(`${server.url}/metrics`);
    expect(reply.status).toBe(500);
    expect(reply.body).toContain('metrics collection failed: sensor gone');
    expect((await fetchText(`${server.url}/healthz`)).status).toBe(200);
  });

  it('answers /healthz with 200 whatever readiness says', async () => {
    const server = await start({ readiness: () => ({ ready: false, reasons: ['etcd unreachable for 12 s'] }) });
    const reply = await fetchText(`${server.url}/healthz`);
    expect(reply).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('answers /readyz with 200 and an empty reason list when ready', async () => {
    const server = await start({ readiness: () => ({ ready: true, reasons: [] }) });
    const reply = await fetchText(`${server.url}/readyz`);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(reply.body)).toEqual({ ready: true, reasons: [] });
  });

  it('answers /readyz with 503 and the reasons when not ready, re-evaluating on every request', async () => {
    let state: Readiness = { ready: false, reasons: ['etcd unreachable for 12 s', 'no config snapshot yet'] };
    const server = await start({ readiness: () => state });
    const notReady = await fetchText(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(notReady.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(notReady.body)).toEqual({ ready: false, reasons: ['etcd unreachable for 12 s', 'no config snapshot yet'] });
    state = { ready: true, reasons: [] };
    expect((await fetchText(`${server.url}/readyz?verbose`)).status).toBe(200);
  });

  it('supports an async readiness check, and turns a failing one into 503 with the error', async () => {
    const asyncServer = await start({ readiness: async () => ({ ready: false, reasons: ['draining'] }) });
    expect(JSON.parse((await fetchText(`${asyncServer.url}/readyz`)).body)).toEqual({ ready: false, reasons: ['draining'] });
    const failing = await start({
      readiness: () => {
        throw new Error('boom');
      },
    });
    const reply = await fetchText(`${failing.url}/readyz`);
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ ready: false, reasons: ['readiness check failed: boom'] });
  });

  it('answers 503 when an async readiness check outlives readinessTimeoutMs', async () => {
    const server = await start({ readiness: () => new Promise<Readiness>(() => undefined), readinessTimeoutMs: 50 });
    const started = performance.now();
    const reply = await fetchText(`${server.url}/readyz`);
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body)).toEqual({ ready: false, reasons: ['readiness check timed out after 50 ms'] });
    await expect(start({ readinessTimeoutMs: 0 })).rejects.toThrow('readinessTimeoutMs: must be > 0, got 0');
  });

  it('answers 404 on other paths, 405 on other methods, and HEAD without a body', async () => {
    const server = await start();
    expect((await fetchText(`${server.url}/`)).status).toBe(404);
    const post = await fetchText(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await fetchText(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('3');
    expect(head.body).toBe('');
  });

  it('closes promptly with a keep-alive connection open, then refuses connections', async () => {
    const server = await startMetricsServer({ port: 0, registry: new Registry() });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const reply = await fetchText(`${server.url}/healthz`, { agent });
    expect(reply.headers.connection).toBe('keep-alive');
    const started = performance.now();
    await server.close();
    // An idle keep-alive socket must not hold close() until keepAliveTimeout (5 s).
    expect(performance.now() - started).toBeLessThan(4_000);
    agent.destroy();
    await expect(
      new Promise((resolve, reject) => connect(server.port, '127.0.0.1').on('connect', resolve).on('error', reject)),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(server.close()).resolves.toBeUndefined();
  });

  it('closes promptly while a readiness check hangs, cutting that request', async () => {
    let entered: () => void = () => undefined;
    const inCheck = new Promise<void>((resolve) => (entered = resolve));
    const server = await startMetricsServer({
      port: 0,
      registry: new Registry(),
      readiness: () => {
        entered();
        return new Promise<Readiness>(() => undefined);
      },
      readinessTimeoutMs: 60_000,
    });
    const pending = fetchText(`${server.url}/readyz`);
    await inCheck;
    const started = performance.now();
    await server.close();
    // Not held by the 60 s readiness check (margin for a loaded machine).
    expect(performance.now() - started).toBeLessThan(5_000);
    await expect(pending).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('closes when its AbortSignal fires', async () => {
    const controller = new AbortController();
    const server = await startMetricsServer({ port: 0, registry: new Registry(), signal: controller.signal });
    controller.abort();
    await server.close();
    await expect(fetchText(`${server.url}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('rejects with the address when the port is taken, and when already aborted', async () => {
    const first = await start();
    await expect(startMetricsServer({ port: first.port, registry: new Registry() })).rejects.toThrow(
      `metrics server: cannot listen on 127.0.0.1:${first.port}: listen EADDRINUSE`,
    );
    await expect(startMetricsServer({ port: 0, registry: new Registry(), signal: AbortSignal.abort() })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('caps open connections and closes a client that never finishes its headers', async () => {
    const server = await start({ maxConnections: 2, headersTimeoutMs: 1000 });
    const closedAfterMs = (socket: ReturnType<typeof connect>): Promise<number> => {
      const t0 = performance.now();
      return new Promise((resolve) => socket.once('close', () => resolve(performance.now() - t0)));
    };
    const open = (): Promise<ReturnType<typeof connect>> =>
      new Promise((resolve, reject) => {
        const socket = connect(server.port, '127.0.0.1', () => resolve(socket));
        socket.on('error', reject);
      });
    // Two slow clients send half a request line and stall (slowloris).
    const slow = [await open(), await open()];
    for (const s of slow) s.resume().write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const slowClosed = slow.map(closedAfterMs);
    // A third connection is over the cap: closed at once, without an answer.
    const third = await open();
    const thirdData: Buffer[] = [];
    third.on('data', (d: Buffer) => thirdData.push(d));
    expect(await closedAfterMs(third)).toBeLessThan(2000);
    expect(Buffer.concat(thirdData).length).toBe(0);
    // The stalled ones are cut after the headers timeout (checked every second): 1-3 s, not forever.
    for (const ms of await Promise.all(slowClosed)) expect(ms).toBeLessThan(5000);
    // Then the port serves again.
    expect((await fetchText(`${server.url}/healthz`)).status).toBe(200);
  });
});
