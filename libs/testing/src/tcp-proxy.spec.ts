import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** Blocks the event loop, as a busy test process does between two reads of the proxy. */
const busy = (ms: number): void => {
  const end = Date.now() + ms;
  while (Date.now() < end);
};

describe('tcp proxy', () => {
  let proxy: TcpProxy | undefined;
  let sink: Server | undefined;
  afterEach(async () => {
    await proxy?.close();
    await new Promise<void>((r) => (sink ? sink.close(() => r()) : r()));
  });

  it('keeps the byte stream in order under latency and jitter while the event loop is busy', async () => {
    // Chunk i carries the number i; the far end checks that numbers arrive in order. Timers alone
    // cannot keep that order: setTimeout counts from the loop's cached clock, so a chunk read later
    // in the same loop turn (or in a turn that started late) can fire before an earlier one.
    const COUNT = 400;
    let received = Buffer.alloc(0);
    const done = new Promise<void>((resolve) => {
      sink = createServer((s: Socket) =>
        s.on('data', (d: Buffer) => {
          received = Buffer.concat([received, d]);
          if (received.length >= COUNT * 4) resolve();
        }),
      );
    });
    await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', () => r()));
    const port = (sink!.address() as { port: number }).port;
    proxy = await startTcpProxy({ targetPort: port, latencyMs: 20, jitterMs: 15 });
    const client = connect(proxy.port, '127.0.0.1');
    client.setNoDelay(true);
    await new Promise<void>((r) => client.once('connect', () => r()));
    for (let i = 0; i < COUNT; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      client.write(b);
      // Let each write reach the proxy as its own read, and keep the proxy's loop late now and then.
      await new Promise((r) => setImmediate(r));
      if (i % 7 === 0) busy(3);
    }
    await done;
    client.destroy();
    const order = Array.from({ length: COUNT }, (_, i) => received.readUInt32BE(i * 4));
    const outOfOrder = order.filter((n, i) => n !== i).length;
    expect(outOfOrder).toBe(0);
  });
});
