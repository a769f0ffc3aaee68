import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSeededUniform } from './seeded-uniform.js';

/** How the proxy treats traffic. */
export type ProxyMode = 'pass' | 'refuse' | 'blackhole';

/** Options of {@link startTcpProxy}. */
export interface TcpProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** One-way delay added to every chunk in both directions, milliseconds. Defaults to 0. */
  latencyMs?: number;
  /** Uniform extra delay in [0, jitterMs), order preserved. Defaults to 0. */
  jitterMs?: number;
  /** Seeded random source for the jitter. Defaults to a fixed-seed generator. */
  random?: () => number;
}

/** A fault-injecting TCP proxy on a loopback port, for chaos and breaker tests. */
export interface TcpProxy {
  readonly port: number;
  readonly endpoint: string;
  setLatency(latencyMs: number, jitterMs?: number): void;
  /**
   * `pass` forwards; `refuse` closes the listener (new connections get ECONNREFUSED) and resets open
   * ones; `blackhole` accepts but forwards nothing (a network partition: calls hang).
   */
  setMode(mode: ProxyMode): Promise<void>;
  /** Destroys every open connection (a network cut), without changing the mode. */
  cutConnections(): void;
  readonly connectionCount: number;
  close(): Promise<void>;
}

/**
 * Starts a TCP proxy in front of `targetPort`. Each direction is a FIFO of (release time, chunk)
 * drained in order by one timer, so the byte stream stays in order (TCP semantics) whatever the
 * jitter. One timer per chunk did not: setTimeout counts from the event loop's cached clock, so on a
 * busy process a later chunk could fire first, and reordered bytes inside an HTTP/2 connection
 * either broke it or, when whole frames swapped, delivered etcd watch events out of order (the
 * watcher then dropped the older event as already applied: a lost config change).
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  let latencyMs = options.latencyMs ?? 0;
  let jitterMs = options.jitterMs ?? 0;
  let mode: ProxyMode = 'pass';
  const random = options.random ?? createSeededUniform(42);
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const pipeDelayed = (from: Socket, to: Socket): void => {
    const queue: { releaseAtMs: number; chunk: Buffer }[] = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      if (timer) timers.delete(timer);
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0]!.releaseAtMs <= now) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) {
        timer = setTimeout(drain, queue[0]!.releaseAtMs - now);
        timers.add(timer);
      }
    };
    from.on('data', (chunk: Buffer) => {
      if (mode === 'blackhole') return;
      const delay = latencyMs + (jitterMs > 0 ? random() * jitterMs : 0);
      if (delay <= 0 && queue.length === 0) {
        to.write(chunk);
        return;
      }
      // Never before the chunk ahead of it.
      const releaseAtMs = Math.max(Date.now() + delay, queue.at(-1)?.releaseAtMs ?? 0);
      queue.push({ releaseAtMs, chunk });
      if (!timer) {
        timer = setTimeout(drain, releaseAtMs - Date.now());
        timers.add(timer);
      }
    });
  };

  const onConnection = (client: Socket): void => {
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(options.targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  };

  let server: Server = createServer(onConnection);
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  const port = await listen(0);
  const closeServer = (): Promise<void> => new Promise((resolve) => server.close(() => resolve()));
  const cut = (): void => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };

  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get connectionCount() {
      return sockets.size / 2;
    },
    setLatency(ms, jitter = 0) {
      latencyMs = ms;
      jitterMs = jitter;
    },
    async setMode(next) {
      if (next === mode) return;
      const previous = mode;
      mode = next;
      if (next === 'refuse') {
        cut();
        await closeServer();
      } else if (previous === 'refuse') {
        server = createServer(onConnection);
        await listen(port);
      }
    },
    cutConnections: cut,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      cut();
      if (mode !== 'refuse') await closeServer();
    },
  };
}
