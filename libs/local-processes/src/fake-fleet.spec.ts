import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createFakeFleet, type FakeFleet, type FakeNode } from './fake-fleet.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  ttfbMs: number;
  totalMs: number;
}

function get(node: FakeNode, agent: Agent | false, timeoutMs = 2000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const req = request(
      { host: node.address, port: node.port, path: node.path, agent, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const ttfbMs = performance.now() - start;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, ttfbMs, totalMs: performance.now() - start }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Open sockets and listeners, once sockets closed by earlier tests have finished closing. */
async function socketHandles(): Promise<number> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
  return process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
}

function errorCode(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'resolved',
    (error: NodeJS.ErrnoException) => error.code ?? error.name,
  );
}

describe('createFakeFleet', () => {
  let fleet: FakeFleet | undefined;
  const agents: Agent[] = [];
  const keepAlive = (): Agent => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return agent;
  };

  afterEach(async () => {
    for (const agent of agents.splice(0)) agent.destroy();
    await fleet?.close();
    fleet = undefined;
  });

  it('serves each node on its own port, reporting load in body and header', async () => {
    fleet = await createFakeFleet({ count: 3 });
    expect(fleet.mode).toBe('listeners');
    expect(new Set(fleet.nodes.map((n) => n.port)).size).toBe(3);
    fleet.setLoad('edge-1', 0.42);
    const reply = await get(fleet.node('edge-1'), false);
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ status: 'ok', load: 0.42 });
    expect(reply.headers['x-edge-load']).toBe('0.42');
    fleet.setLoad('edge-1', 0.7, 'header');
    const headerOnly = await get(fleet.node('edge-1'), false);
    expect(JSON.parse(headerOnly.body)).toEqual({ status: 'ok' });
    expect(headerOnly.headers['x-edge-load']).toBe('0.7');
    expect(fleet.requests('edge-1')).toBe(2);
    expect(fleet.requests('edge-0')).toBe(0);
  });

  it('counts one TCP connection for many keep-alive requests, and one per request without', async () => {
    fleet = await createFakeFleet({ count: 2 });
    const agent = keepAlive();
    for (let i = 0; i < 5; i++) await get(fleet.node('edge-0'), agent);
    for (let i = 0; i < 3; i++) await get(fleet.node('edge-1'), false);
    expect(fleet.requests('edge-0')).toBe(5);
    expect(fleet.connections('edge-0')).toBe(1);
    expect(fleet.connections('edge-1')).toBe(3);
    expect(fleet.totals()).toMatchObject({ requests: 8, connections: 4 });
    fleet.resetCounters();
    expect(fleet.totals()).toMatchObject({ requests: 0, connections: 0 });
  });

  it('answers 500, malformed load reports, latency and slow bodies as told', async () => {
    fleet = await createFakeFleet({ count: 1, load: 0.5 });
    const node = fleet.nodes[0]!;
    await fleet.setHealth(node.id, 'http500');
    expect((await get(node, false)).status).toBe(500);

    await fleet.setHealth(node.id, 'badBody');
    const bad = await get(node, false);
    expect(bad.status).toBe(200);
    expect(() => JSON.parse(bad.body)).toThrow();
    expect(bad.headers['x-edge-load']).toBe('lots');

    await fleet.setHealth(node.id, 'up');
    fleet.setLatencyMs(node.id, 150);
    const delayed = await get(node, false);
    expect(delayed.ttfbMs).toBeGreaterThanOrEqual(140);

    await fleet.setHealth(node.id, 'slow');
    // Headers at once, the body 1.5 s later (room for a loaded machine on the headers' side).
    fleet.setLatencyMs(node.id, 1500);
    const slow = await get(node, false);
    expect(slow.status).toBe(200);
    expect(slow.ttfbMs).toBeLessThan(1000);
    expect(slow.totalMs).toBeGreaterThanOrEqual(1490);
    expect(JSON.parse(slow.body)).toEqual({ status: 'ok', load: 0.5 });
  });

  it('refuses while `refused` and serves again on the same port when back up', async () => {
    fleet = await createFakeFleet({ count: 2 });
    const node = fleet.node('edge-0');
    const agent = keepAlive();
    await get(node, agent);
    await fleet.setHealth('edge-0', 'refused');
    expect(await errorCode(get(node, false))).toBe('ECONNREFUSED');
    expect((await get(fleet.node('edge-1'), false)).status).toBe(200);
    await fleet.setHealth('edge-0', 'up');
    expect(fleet.node('edge-0').port).toBe(node.port);
    expect((await get(node, agent)).status).toBe(200);
  });

  it('resets the connection on `reset` and never answers on `timeout`', async () => {
    fleet = await createFakeFleet({ count: 1 });
    const node = fleet.nodes[0]!;
    await fleet.setHealth(node.id, 'reset');
    expect(await errorCode(get(node, false))).toBe('ECONNRESET');
    await fleet.setHealth(node.id, 'timeout');
    const start = performance.now();
    expect(await errorCode(get(node, false, 200))).toBe('ABORT_ERR');
    expect(performance.now() - start).toBeGreaterThanOrEqual(190);
    expect(fleet.requests(node.id)).toBe(2);
  });

  it('serves many nodes from shared listeners by path in virtual mode', async () => {
    fleet = await createFakeFleet({ count: 1500, listeners: 2, load: 0.25 });
    expect(fleet.mode).toBe('virtual');
    expect(new Set(fleet.nodes.map((n) => n.port)).size).toBe(2);
    expect(fleet.node('edge-1499').path).toBe('/n/edge-1499/health');
    const agent = keepAlive();
    const sameListener = fleet.nodes.filter((n) => n.port === fleet!.nodes[0]!.port).slice(0, 3);
    for (const n of [...sameListener, ...sameListener]) expect((await get(n, agent)).status).toBe(200);
    for (const n of sameListener) {
      expect(fleet.requests(n.id)).toBe(2);
      expect(fleet.connections(n.id)).toBe(1);
    }
    expect(fleet.totals().connections).toBe(1);
    await fleet.setHealth(sameListener[1]!.id, 'http500');
    expect((await get(sameListener[1]!, agent)).status).toBe(500);
    expect((await get(sameListener[0]!, agent)).status).toBe(200);
    const unknown = { ...sameListener[0]!, path: '/n/nobody/health' };
    expect((await get(unknown, agent)).status).toBe(404);
    await expect(fleet.setHealth('edge-3', 'refused')).rejects.toThrow(/listeners/);
  });

  it('closes every listener and socket, even with requests left hanging', async () => {
    const before = await socketHandles();
    fleet = await createFakeFleet({ count: 20 });
    await fleet.setHealth('edge-0', 'timeout');
    await fleet.setHealth('edge-1', 'slow');
    fleet.setLatencyMs('edge-1', 60_000);
    const hanging = [errorCode(get(fleet.node('edge-0'), false)), errorCode(get(fleet.node('edge-1'), false))];
    await new Promise((r) => setTimeout(r, 50));
    expect(fleet.totals().openConnections).toBe(2);
    await fleet.close();
    expect(await Promise.all(hanging)).toEqual(['ECONNRESET', 'ECONNRESET']);
    expect(await socketHandles()).toBe(before);
    fleet = undefined;
  });
});
