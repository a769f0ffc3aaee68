import net from 'node:net';
import type { QueryHandler } from '../query-handler.js';

/** Options of {@link startTcpServer}. */
export interface TcpServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  handler: QueryHandler;
  /** A connection with nothing to read or write for this long is closed (RFC 7766 §6.2.3), milliseconds. Defaults to 10 000. */
  idleTimeoutMs?: number;
  /** A length prefix above this closes the connection: no query is that big. Defaults to 4096. */
  maxMessageBytes?: number;
  /** Queries of one connection answered concurrently; reading pauses beyond. Defaults to 64. */
  maxPipelined?: number;
  /** Most open connections (per process). Defaults to 1000. */
  maxConnections?: number;
  onConnectionError?(reason: 'oversized' | 'undersized' | 'idle' | 'error', error?: unknown): void;
}

export interface TcpServer {
  readonly port: number;
  readonly connections: number;
  /** Stops accepting, lets answers in flight finish for up to `graceMs`, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): 2-byte length-prefixed messages, pipelined queries
 * answered as each is ready (out of order is allowed, §6.2.1.1), idle connections closed.
 */
export async function startTcpServer(options: TcpServerOptions): Promise<TcpServer> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const maxMessageBytes = options.maxMessageBytes ?? 4096;
  const maxPipelined = options.maxPipelined ?? 64;
  const sockets = new Set<net.Socket>();
  const inFlight = new Set<Promise<unknown>>();

  const serve = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs);
    let buffered: Buffer = Buffer.alloc(0);
    let pending = 0;
    const write = (bytes: Buffer | undefined): void => {
      if (!bytes || socket.destroyed || !socket.writable) return;
      const frame = Buffer.allocUnsafe(bytes.length + 2);
      frame.writeUInt16BE(bytes.length, 0);
      bytes.copy(frame, 2);
      socket.write(frame);
    };
    const done = (): void => {
      pending--;
      if (pending < maxPipelined && socket.isPaused()) socket.resume();
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (len > maxMessageBytes || len < 12) {
          options.onConnectionError?.(len < 12 ? 'undersized' : 'oversized');
          socket.destroy();
          return;
        }
        if (buffered.length < len + 2) break;
        const message = buffered.subarray(2, len + 2);
        buffered = buffered.subarray(len + 2);
        pending++;
        if (pending >= maxPipelined) socket.pause();
        try {
          const out = options.handler.handle(message, { address: socket.remoteAddress ?? '' }, 'tcp');
          if (out instanceof Promise) {
            const p = out.then(write, (error: unknown) => options.onConnectionError?.('error', error)).finally(() => {
              inFlight.delete(p);
              done();
            });
            inFlight.add(p);
          } else {
            write(out);
            done();
          }
        } catch (error) {
          options.onConnectionError?.('error', error);
          done();
        }
      }
    });
    socket.on('timeout', () => {
      options.onConnectionError?.('idle');
      socket.destroy();
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  };

  const server = net.createServer(serve);
  server.maxConnections = options.maxConnections ?? 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, exclusive: false }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    get connections() {
      return sockets.size;
    },
    async close(graceMs = 1000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
