import type { IncomingHttpHeaders } from 'node:http';
import { Socket, isIPv6, type LookupFunction } from 'node:net';
import { Client, buildConnector, type Dispatcher } from 'undici';
import { ProbeErrorClass } from '@cdn-sched/proto';
import { ProbeError, classifyError } from './classify.js';
import { setProbeDeadline } from './probe-deadline.js';

/** Options of {@link createHostPool}, shared by every pool of a registry. */
export interface HostPoolOptions {
  /**
   * Connections kept to one host:port. Defaults to 2: a node has at most one probe in flight, and a
   * second socket lets another target on the same address go on while one probe hangs.
   */
  connections?: number;
  /**
   * Keep-alive: reuse connections between probes. Defaults to true. Without it every probe opens a
   * TCP connection and leaves one socket in TIME_WAIT, 2k/s at 10k nodes every 5 s.
   */
  keepAlive?: boolean;
  /**
   * How long an idle connection is kept, ms. Defaults to 60 s. It must exceed the probe interval or
   * every probe reconnects; undici lowers it to the server's `Keep-Alive: timeout` hint minus 2 s.
   */
  keepAliveTimeoutMs?: number;
  /** Connect timeout backstop, ms. Defaults to 10 s (a probe's own timeout normally fires first). */
  connectTimeoutMs?: number;
  /** Header and body timeout backstops, ms. Defaults to 30 s. */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** Host name resolution for addresses that are not IP literals. Defaults to `dns.lookup`. */
  lookup?: LookupFunction;
  /** `User-Agent` of probes. Defaults to `cdn-sched-prober`. */
  userAgent?: string;
}

/** One GET: what it returned and how long each part took. Never a rejection. */
export interface Exchange {
  /** 0 when no response arrived. */
  statusCode: number;
  headers: IncomingHttpHeaders | null;
  /** At most `maxBodyBytes`; null when no complete body was read. */
  body: Buffer | null;
  /** TCP connect time, ms; 0 when the request went out on a reused keep-alive connection. */
  connectMs: number;
  ttfbMs: number;
  totalMs: number;
  reused: boolean;
  /** Why the exchange failed, or null. */
  error: Error | null;
}

export interface ExchangeOptions {
  path: string;
  timeoutMs: number;
  /** Aborts the exchange (the result then carries an `EPROBEABORTED` error). */
  signal?: AbortSignal | undefined;
  /** Largest body read, bytes. Defaults to 4096; a longer body is an `EBADBODY` error. */
  maxBodyBytes?: number | undefined;
}

/** Keep-alive HTTP/1.1 connections to one origin, with per-request connect timing. */
export interface HostPool {
  readonly origin: string;
  exchange(options: ExchangeOptions): Promise<Exchange>;
  /** Connected sockets. */
  openSockets(): number;
  /** Destroys every connection; exchanges in flight end aborted. Idempotent. */
  close(): Promise<void>;
}

/**
 * A connection: one undici Client, which keeps one socket and runs one request at a time. The pool
 * hands a slot to one exchange at a time, so whatever the slot's connector did during the exchange
 * happened for that exchange: that is how connect time is attributed exactly (0 on a reused socket),
 * with documented APIs only (a custom `connect` function and the Client's own queue).
 */
interface Slot {
  readonly client: Client;
  busy: boolean;
  connects: number;
  lastConnectMs: number;
  /** A connect in progress, cut when the slot is destroyed (Client#destroy leaves it running). */
  connecting: Socket | null;
}

type Waiter = (slot: Slot | null) => void;

export function originOf(address: string, port: number): string {
  return `http://${isIPv6(address) ? `[${address}]` : address}:${port}`;
}

/** Keep-alive connections to `origin` (`http://host:port`). */
export function createHostPool(origin: string, options: HostPoolOptions = {}): HostPool {
  return hostPoolFactory(options)(origin);
}

/**
 * A maker of pools that share one connector and one header set: a registry holds one pool per node
 * address, 10 k of them, so per-pool constants are built once.
 */
export function hostPoolFactory(options: HostPoolOptions = {}): (origin: string) => HostPool {
  const headers = { 'user-agent': options.userAgent ?? 'cdn-sched-prober', accept: 'application/json, */*;q=0.1' };
  const baseConnect = buildConnector({
    timeout: options.connectTimeoutMs ?? 10_000,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  return (origin) => openHostPool(origin, options, headers, baseConnect);
}

function openHostPool(
  origin: string,
  options: HostPoolOptions,
  headers: Record<string, string>,
  baseConnect: buildConnector.connector,
): HostPool {
  const maxConnections = Math.max(1, options.connections ?? 2);
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 60_000;
  const slots: Slot[] = [];
  const waiters: Waiter[] = [];
  const destroying = new Set<Promise<void>>();
  let open = 0;
  let closed = false;

  const newSlot = (): Slot => {
    // The connector runs when the Client opens its socket, after `slot` below is assigned.
    const connect: buildConnector.connector = (connectOptions, callback) => {
      const started = performance.now();
      const socket: unknown = baseConnect(connectOptions, (...args: buildConnector.CallbackArgs) => {
        slot.connecting = null;
        if (args[0] === null) {
          slot.connects++;
          slot.lastConnectMs = performance.now() - started;
        }
        callback(...args);
      });
      // undici's connector returns the socket it opens (its typings say void): keep it, so a removed
      // node's connect to a black-holed address is cut now rather than at the connect timeout.
      if (socket instanceof Socket) slot.connecting = socket;
    };
    const client = new Client(origin, {
      connect,
      pipelining: options.keepAlive === false ? 0 : 1,
      keepAliveTimeout: keepAliveTimeoutMs,
      keepAliveMaxTimeout: keepAliveTimeoutMs,
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 30_000,
    });
    client.on('connect', () => open++);
    client.on('disconnect', () => open--);
    const slot: Slot = { client, busy: true, connects: 0, lastConnectMs: 0, connecting: null };
    slots.push(slot);
    return slot;
  };

  const acquire = (waiter: Waiter): void => {
    if (closed) return waiter(null);
    const idle = slots.find((s) => !s.busy);
    if (idle) {
      idle.busy = true;
      return waiter(idle);
    }
    if (slots.length < maxConnections) return waiter(newSlot());
    waiters.push(waiter);
  };

  const destroySlot = (slot: Slot): void => {
    const i = slots.indexOf(slot);
    if (i !== -1) slots.splice(i, 1);
    slot.connecting?.destroy();
    const done = slot.client.destroy().then(() => void destroying.delete(done));
    destroying.add(done);
  };

  const release = (slot: Slot, destroy: boolean): void => {
    if (destroy || closed) destroySlot(slot);
    else slot.busy = false;
    const next = waiters.shift();
    if (next) acquire(next);
  };

  const exchange = (request: ExchangeOptions): Promise<Exchange> =>
    new Promise<Exchange>((resolve) => {
      const started = performance.now();
      const maxBodyBytes = request.maxBodyBytes ?? 4096;
      const result: Exchange = { statusCode: 0, headers: null, body: null, connectMs: 0, ttfbMs: 0, totalMs: 0, reused: false, error: null };
      let slot: Slot | null = null;
      let settled = false;
      let attempts = 0;

      const finish = (error: Error | null, destroySlotAfter = false): void => {
        if (settled) return;
        settled = true;
        deadline.clear();
        request.signal?.removeEventListener('abort', onAbort);
        result.error = error;
        result.totalMs = performance.now() - started;
        if (slot) release(slot, destroySlotAfter);
        else {
          const i = waiters.indexOf(onSlot);
          if (i !== -1) waiters.splice(i, 1);
        }
        resolve(result);
      };
      // A cancelled exchange may sit in a connect or mid-response: destroying its connection is the
      // only way to stop it, and the only safe state to leave it in.
      const onTimeout = (): void => finish(new ProbeError('EPROBETIMEOUT', `no answer within ${request.timeoutMs} ms`), true);
      const onAbort = (): void => finish(new ProbeError('EPROBEABORTED', 'probe cancelled'), true);
      const deadline = setProbeDeadline(onTimeout, request.timeoutMs);
      if (request.signal?.aborted) return onAbort();
      request.signal?.addEventListener('abort', onAbort, { once: true });

      const dispatch = (s: Slot): void => {
        attempts++;
        const connectsBefore = s.connects;
        const chunks: Buffer[] = [];
        let size = 0;
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart(controller) {
            if (settled) return controller.abort(new ProbeError('EPROBEABORTED', 'probe cancelled'));
            result.reused = s.connects === connectsBefore;
            result.connectMs = result.reused ? 0 : s.lastConnectMs;
          },
          onResponseStart(_controller, statusCode, responseHeaders) {
            if (statusCode < 200) return; // 1xx informational
            result.statusCode = statusCode;
            result.headers = responseHeaders;
            result.ttfbMs = performance.now() - started;
          },
          onResponseData(controller, chunk) {
            size += chunk.length;
            if (size > maxBodyBytes) {
              controller.abort(new ProbeError('EBADBODY', `body exceeds ${maxBodyBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          },
          onResponseEnd() {
            result.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
            finish(null);
          },
          onResponseError(_controller, error) {
            if (settled) return;
            // A keep-alive connection the server closed while idle fails the next request before any
            // response byte. Browsers and Go's net/http retry an idempotent request once on a new
            // connection in that case (RFC 9110 §9.2.2); without it, idle-timeout races read as resets.
            if (attempts === 1 && result.reused && result.statusCode === 0 && classifyError(error) === ProbeErrorClass.RESET) {
              queueMicrotask(() => {
                if (!settled) dispatch(s);
              });
              return;
            }
            finish(error);
          },
        };
        s.client.dispatch({ method: 'GET', path: request.path, headers }, handler);
      };

      function onSlot(s: Slot | null): void {
        if (settled) {
          if (s) release(s, false);
          return;
        }
        if (!s) return finish(new ProbeError('EPROBEABORTED', 'pool closed'));
        slot = s;
        dispatch(s);
      }
      acquire(onSlot);
    });

  return {
    origin,
    exchange,
    openSockets: () => open,
    async close() {
      closed = true;
      for (const waiter of waiters.splice(0)) waiter(null);
      for (const slot of [...slots]) destroySlot(slot);
      await Promise.all(destroying);
    },
  };
}
