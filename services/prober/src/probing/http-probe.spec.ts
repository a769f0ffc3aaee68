import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ProbeErrorClass } from '@cdn-sched/proto';
import { createFakeFleet, type FakeFleet } from '@cdn-sched/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createHostPool, originOf, type HostPool, type HostPoolOptions } from './host-pool.js';
import { httpProbe } from './http-probe.js';

describe('httpProbe against the fake fleet', () => {
  let fleet: FakeFleet;
  const pools: HostPool[] = [];
  const poolFor = (id: string, options: HostPoolOptions = {}): HostPool => {
    const node = fleet.node(id);
    const pool = createHostPool(originOf(node.address, node.port), options);
    pools.push(pool);
    return pool;
  };
  const probe = (id: string, pool: HostPool, timeoutMs = 5000, signal?: AbortSignal) =>
    httpProbe(pool, { nodeId: id, path: fleet.node(id).path, timeoutMs, signal, startedAtMs: 1_700_000_000_000 });

  beforeAll(async () => {
    fleet = await createFakeFleet({ count: 12 });
  });
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await fleet.close();
  });

  it('reports an up node with its status, load from the body, and timings', async () => {
    fleet.setLoad('edge-0', 0.42, 'body');
    const result = await probe('edge-0', poolFor('edge-0'));
    expect(result).toMatchObject({ nodeId: 'edge-0', ok: true, errorClass: ProbeErrorClass.UNSPECIFIED, statusCode: 200, load: 0.42 });
    expect(result.startedAtMs).toBe(1_700_000_000_000n);
    expect(result.connectMs).toBeGreaterThan(0);
    expect(result.ttfbMs).toBeGreaterThanOrEqual(result.connectMs);
    expect(result.totalMs).toBeGreaterThanOrEqual(result.ttfbMs);
  });

  it('reads the load from the X-Edge-Load header, and -1 when none is reported', async () => {
    fleet.setLoad('edge-1', 0.7, 'header');
    const pool = poolFor('edge-1');
    expect((await probe('edge-1', pool)).load).toBe(0.7);
    fleet.setLoad('edge-1', null);
    expect(await probe('edge-1', pool)).toMatchObject({ ok: true, load: -1 });
  });

  it('reuses one keep-alive connection: connect time once, then 0', async () => {
    const pool = poolFor('edge-2');
    const before = fleet.connections('edge-2');
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await probe('edge-2', pool));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(fleet.connections('edge-2') - before).toBe(1);
    expect(results[0]!.connectMs).toBeGreaterThan(0);
    expect(results.slice(1).every((r) => r.connectMs === 0)).toBe(true);
    expect(pool.openSockets()).toBe(1);
  });

  it('opens a connection per probe when keep-alive is off', async () => {
    const pool = poolFor('edge-3', { keepAlive: false });
    const before = fleet.connections('edge-3');
    for (let i = 0; i < 5; i++) expect((await probe('edge-3', pool)).connectMs).toBeGreaterThan(0);
    expect(fleet.connections('edge-3') - before).toBe(5);
  });

  it('classifies a 500 as HTTP_STATUS and keeps the code', async () => {
    await fleet.setHealth('edge-4', 'http500');
    const result = await probe('edge-4', poolFor('edge-4'));
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.HTTP_STATUS, statusCode: 500, errorDetail: 'HTTP 500' });
    await fleet.setHealth('edge-4', 'up');
  });

  it('classifies a node that never answers as TIMEOUT at the probe timeout', async () => {
    await fleet.setHealth('edge-5', 'timeout');
    const pool = poolFor('edge-5');
    const result = await probe('edge-5', pool, 150);
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.TIMEOUT, statusCode: 0 });
    expect(result.totalMs).toBeGreaterThanOrEqual(145);
    // Ended by the 150 ms timeout, not by anything slower (the margin is for a loaded machine).
    expect(result.totalMs).toBeLessThan(2000);
    // The timed-out connection was destroyed (its state is unknown); the next probe reconnects.
    await fleet.setHealth('edge-5', 'up');
    const next = await probe('edge-5', pool);
    expect(next.ok).toBe(true);
    expect(next.connectMs).toBeGreaterThan(0);
  });

  it('classifies a closed port as REFUSED, fast', async () => {
    await fleet.setHealth('edge-6', 'refused');
    const result = await probe('edge-6', poolFor('edge-6'));
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.REFUSED });
    expect(result.errorDetail).toMatch(/ECONNREFUSED/);
    // Fast: well under the probe timeout (margin for a loaded machine).
    expect(result.totalMs).toBeLessThan(2000);
    await fleet.setHealth('edge-6', 'up');
  });

  it('classifies a reset connection as RESET, after one retry when the socket was reused', async () => {
    const pool = poolFor('edge-7');
    expect((await probe('edge-7', pool)).ok).toBe(true);
    await fleet.setHealth('edge-7', 'reset');
    const before = fleet.requests('edge-7');
    const result = await probe('edge-7', pool);
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.RESET });
    // First attempt on the kept-alive socket, retried once on a new connection.
    expect(fleet.requests('edge-7') - before).toBe(2);
    const fresh = await probe('edge-7', pool);
    expect(fresh.errorClass).toBe(ProbeErrorClass.RESET);
    expect(fleet.requests('edge-7') - before).toBe(3);
    await fleet.setHealth('edge-7', 'up');
  });

  it('classifies malformed load reports as BAD_BODY instead of throwing', async () => {
    await fleet.setHealth('edge-8', 'badBody');
    const pool = poolFor('edge-8');
    fleet.setLoad('edge-8', 0.5, 'body');
    const inBody = await probe('edge-8', pool);
    expect(inBody).toMatchObject({ ok: false, errorClass: ProbeErrorClass.BAD_BODY, statusCode: 200 });
    expect(inBody.errorDetail).toMatch(/invalid JSON/);
    fleet.setLoad('edge-8', 0.5, 'header');
    expect(await probe('edge-8', pool)).toMatchObject({ ok: false, errorClass: ProbeErrorClass.BAD_BODY });
    await fleet.setHealth('edge-8', 'up');
    fleet.setLoad('edge-8', 1.5);
    const outOfRange = await probe('edge-8', pool);
    expect(outOfRange).toMatchObject({ ok: false, errorClass: ProbeErrorClass.BAD_BODY });
    expect(outOfRange.errorDetail).toMatch(/\[0, 1\]/);
  });

  it('separates time to first byte from total time on a slow body, and times out mid-body', async () => {
    await fleet.setHealth('edge-9', 'slow');
    // A body 1.5 s behind the headers: the gap between the two figures is what is asserted, with
    // room for a loaded machine on the headers' side.
    fleet.setLatencyMs('edge-9', 1500);
    const pool = poolFor('edge-9');
    const slow = await probe('edge-9', pool, 5000);
    expect(slow.ok).toBe(true);
    expect(slow.ttfbMs).toBeLessThan(1000);
    expect(slow.totalMs).toBeGreaterThanOrEqual(1495);
    const cut = await probe('edge-9', pool, 800);
    expect(cut).toMatchObject({ ok: false, errorClass: ProbeErrorClass.TIMEOUT, statusCode: 200 });
    await fleet.setHealth('edge-9', 'up');
  });

  it('ends at once when its signal aborts, and a closed pool answers nothing', async () => {
    await fleet.setHealth('edge-10', 'timeout');
    const pool = poolFor('edge-10');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const result = await probe('edge-10', pool, 5000, controller.signal);
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.OTHER, errorDetail: 'EPROBEABORTED: probe cancelled' });
    // At the abort (30 ms), not at the 5 s timeout.
    expect(result.totalMs).toBeLessThan(2500);
    await pool.close();
    expect((await probe('edge-10', pool)).errorDetail).toBe('EPROBEABORTED: pool closed');
    await fleet.setHealth('edge-10', 'up');
  });

  it('classifies a name that does not resolve as DNS', async () => {
    const lookup = ((_host: string, _options: unknown, callback: (e: NodeJS.ErrnoException) => void) =>
      callback(Object.assign(new Error('getaddrinfo ENOTFOUND edge.invalid'), { code: 'ENOTFOUND' }))) as unknown as HostPoolOptions['lookup'];
    const pool = createHostPool('http://edge.invalid:80', { lookup });
    pools.push(pool);
    const result = await httpProbe(pool, { nodeId: 'x', path: '/health', timeoutMs: 1000 });
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.DNS });
  });
});

describe('httpProbe against hand-made servers', () => {
  let server: Server;
  let origin: string;
  let requestsOnSocket: WeakMap<Socket, number>;
  let mode: 'stale' | 'big';

  beforeAll(async () => {
    requestsOnSocket = new WeakMap();
    server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
      const n = (requestsOnSocket.get(req.socket) ?? 0) + 1;
      requestsOnSocket.set(req.socket, n);
      // `stale`: the server drops each connection when its second request arrives — what a request
      // racing an idle-timeout close looks like from the client.
      if (mode === 'stale' && n === 2) return req.socket.resetAndDestroy();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(mode === 'big' ? JSON.stringify({ load: 0.1, pad: 'x'.repeat(10_000) }) : '{"load":0.3}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('retries once on a new connection when a reused one was closed under it', async () => {
    mode = 'stale';
    const pool = createHostPool(origin, { connections: 1 });
    const first = await httpProbe(pool, { nodeId: 'n', path: '/', timeoutMs: 1000 });
    const second = await httpProbe(pool, { nodeId: 'n', path: '/', timeoutMs: 1000 });
    await pool.close();
    expect(first).toMatchObject({ ok: true, load: 0.3 });
    expect(second).toMatchObject({ ok: true, load: 0.3 });
    // The retry went out on a new connection, so it paid (and reports) a connect.
    expect(second.connectMs).toBeGreaterThan(0);
  });

  it('reads at most maxBodyBytes and calls a longer body BAD_BODY', async () => {
    mode = 'big';
    const pool = createHostPool(origin);
    const small = await httpProbe(pool, { nodeId: 'n', path: '/', timeoutMs: 1000, maxBodyBytes: 64 * 1024 });
    const capped = await httpProbe(pool, { nodeId: 'n', path: '/', timeoutMs: 1000 });
    await pool.close();
    expect(small).toMatchObject({ ok: true, load: 0.1 });
    expect(capped).toMatchObject({ ok: false, errorClass: ProbeErrorClass.BAD_BODY, statusCode: 200 });
    expect(capped.errorDetail).toMatch(/4096 bytes/);
  });
});
