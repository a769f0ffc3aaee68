import dgram from 'node:dgram';
import { lookup as dnsLookup, type LookupOneOptions } from 'node:dns';
import { isIP, isIPv6 } from 'node:net';
import { truncatedCopy } from '../dns/truncate.js';
import type { QueryHandler } from '../query-handler.js';
import type { RateLimiter } from './rate-limiter.js';

/** Options of {@link startUdpServer}. */
export interface UdpServerOptions {
  host: string;
  /** 0 = any free port. */
  port: number;
  handler: QueryHandler;
  rateLimiter?: RateLimiter;
  /** Kernel receive buffer, bytes (a burst larger than this is lost before Node sees it). Defaults to 4 MiB. */
  recvBufferBytes?: number;
  /** A reply dropped by rate limiting, or a handler failure. */
  onDrop?(reason: 'rate-limited' | 'error', error?: unknown): void;
  /** A reply limited by response rate limiting: dropped, or slipped (sent truncated). */
  onRateLimited?(action: 'drop' | 'slip'): void;
}

export interface UdpServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The address lookup of the gateway's UDP socket. Every reply goes to the numeric address a query
 * came from, which Node's default (`dns.lookup`) also answers without asking anyone, but one turn
 * of `process.nextTick` later, through a closure and an argument check: about a microsecond a reply
 * on the benchmark machine, where the bare responder answers 8–19 % more queries a second with
 * it and the gateway's cached answers ~5 % more (`npm run bench -- dns`, docs/benchmarks.md). A
 * numeric address is given back at once, as dgram does for a connected socket; anything else still
 * goes to `dns.lookup`.
 */
export const numericLookup = (address: string, options: LookupOneOptions | number, callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void): void => {
  const f = isIP(address);
  if (f !== 0) callback(null, address, f);
  // dgram passes the socket's family as a number (4 or 6).
  else dnsLookup(address, typeof options === 'number' ? { family: options } : options, callback);
};

/**
 * DNS over UDP. The socket is not exclusive, so in cluster workers every worker serves the one
 * port through the primary's shared handle (Node 20's dgram has no SO_REUSEPORT).
 */
export async function startUdpServer(options: UdpServerOptions): Promise<UdpServer> {
  const socket = dgram.createSocket({ type: isIPv6(options.host) ? 'udp6' : 'udp4', lookup: numericLookup });
  let closed = false;
  const reply = (bytes: Buffer | undefined, port: number, address: string): void => {
    if (!bytes || closed) return;
    const verdict = options.rateLimiter?.enabled ? options.rateLimiter.check(address) : 'send';
    if (verdict === 'drop') {
      options.onRateLimited?.('drop');
      options.onDrop?.('rate-limited');
      return;
    }
    if (verdict === 'slip') options.onRateLimited?.('slip');
    socket.send(verdict === 'slip' ? truncatedCopy(bytes) : bytes, port, address);
  };
  socket.on('message', (msg, rinfo) => {
    try {
      const out = options.handler.handle(msg, rinfo, 'udp');
      if (out instanceof Promise) {
        out.then(
          (bytes) => reply(bytes, rinfo.port, rinfo.address),
          (error: unknown) => options.onDrop?.('error', error),
        );
      } else reply(out, rinfo.port, rinfo.address);
    } catch (error) {
      options.onDrop?.('error', error);
    }
  });
  // A send to an unreachable client (ICMP) must not take the server down.
  socket.on('error', (error) => options.onDrop?.('error', error));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: options.host, port: options.port, exclusive: false }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    socket.setRecvBufferSize(options.recvBufferBytes ?? 4 * 1024 * 1024);
  } catch {
    // Capped by net.core.rmem_max; the kernel's default still works.
  }
  return {
    port: socket.address().port,
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        socket.close(() => resolve());
      }),
  };
}
