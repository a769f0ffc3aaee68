import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHostPool, originOf } from './host-pool.js';
import { httpProbe } from './http-probe.js';
import { tcpProbe } from './tcp-probe.js';

/** Holds this process's event loop, as a GC pause or a burst of work in a loaded prober does. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('a probe whose answer arrived while the prober itself was stalled past the deadline', () => {
  // The kernel completes a TCP handshake with a listening socket while this process is blocked.
  // (An HTTP answer cannot be timed into the stall reliably from here: the request goes out after
  // a few asynchronous steps; the HTTP probe's deadline is the same `setProbeDeadline`.)
  let listener: Server;
  let listenerPort: number;
  beforeAll(async () => {
    listener = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerPort = (listener.address() as { port: number }).port;
  }, 60_000);
  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
  });

  it('TCP: counts the handshake the kernel completed meanwhile, not its own timeout', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) {
      const probe = tcpProbe({ nodeId: 'edge', address: '127.0.0.1', port: listenerPort, timeoutMs: 50, startedAtMs: 1 });
      blockFor(1000);
      results.push(await probe);
    }
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true]);
  });

  it('still times out an edge that does not answer', async () => {
    // Accepts the connection and never answers the request.
    const held = new Set<Socket>();
    const silent = createServer((socket) => void held.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPool = createHostPool(originOf('127.0.0.1', (silent.address() as { port: number }).port));
    try {
      const result = await httpProbe(silentPool, { nodeId: 'edge', path: '/health', timeoutMs: 100, startedAtMs: 1 });
      expect(result.ok).toBe(false);
      expect(result.errorDetail).toMatch(/no answer within 100 ms/);
      expect(result.totalMs).toBeGreaterThanOrEqual(99);
    } finally {
      await silentPool.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
