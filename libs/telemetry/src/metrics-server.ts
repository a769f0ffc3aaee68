import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** What a service says about its readiness: ready, or not with the reasons why. */
export interface Readiness {
  ready: boolean;
  /** For a person, e.g. "etcd unreachable for 12 s"; empty when ready. */
  reasons: string[];
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one (see {@link MetricsServer.port}). */
  port: number;
  /** Address to bind. Defaults to "127.0.0.1": metrics and probes are not for the internet. */
  host?: string;
  /** Registry served on `/metrics`. */
  registry: Registry;
  /** Called on every `/readyz`. Defaults to always ready. */
  readiness?: () => Readiness | Promise<Readiness>;
  /** An async readiness check slower than this answers 503. Defaults to 2 000 ms. */
  readinessTimeoutMs?: number;
  /**
   * Open connections at most; more are closed on arrival (scrapers and probes need a handful).
   * Defaults to 64.
   */
  maxConnections?: number;
  /** Time a client gets to send its request headers, milliseconds. Defaults to 5 seconds. */
  headersTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this, milliseconds. Defaults to 30 seconds. */
  idleTimeoutMs?: number;
  /** Aborting closes the server, like {@link MetricsServer.close}. */
  signal?: AbortSignal;
}

/** A running metrics server. */
export interface MetricsServer {
  /** Bound address ("127.0.0.1"). */
  readonly host: string;
  /** Bound port (the real one when 0 was asked). */
  readonly port: number;
  /** Base URL, e.g. "http://127.0.0.1:9464". */
  readonly url: string;
  /** Stops listening, ends every open socket (keep-alive included) and resolves once closed. */
  close(): Promise<void>;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';

function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    // Probe and scrape answers describe this instant; a cache in between would lie.
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

type ReadinessCheck = () => Readiness | Promise<Readiness>;

async function readinessBody(readiness: ReadinessCheck, timeoutMs: number): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  // A check stuck on a hung dependency answers "not ready" in time, instead of leaving the
  // prober (kubelet, a load balancer) to time out with no reason given.
  const timedOut = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, reasons: [`readiness check timed out after ${timeoutMs} ms`] }), timeoutMs);
  });
  try {
    const { ready, reasons } = await Promise.race([Promise.resolve().then(readiness), timedOut]);
    return { ready: ready === true, reasons: [...reasons] };
  } catch (error) {
    // A failing check is itself a reason not to take traffic, and must not take the server down.
    return { ready: false, reasons: [`readiness check failed: ${messageOf(error)}`] };
  } finally {
    clearTimeout(timer);
  }
}

interface Routes {
  registry: Registry;
  readiness: ReadinessCheck;
  readinessTimeoutMs: number;
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Routes): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    send(req, res, 405, TEXT_TYPE, 'method not allowed\n');
    return;
  }
  // Query strings (`/readyz?verbose`) are accepted and ignored.
  const path = (req.url ?? '/').split('?', 1)[0];
  switch (path) {
    case '/metrics': {
      let text: string;
      try {
        text = await routes.registry.metrics();
      } catch (error) {
        send(req, res, 500, TEXT_TYPE, `metrics collection failed: ${messageOf(error)}\n`);
        return;
      }
      send(req, res, 200, routes.registry.contentType, text);
      return;
    }
    case '/healthz':
      // Liveness only: answering at all proves the event loop runs. Dependencies belong in /readyz,
      // or an etcd outage would get every replica restarted at once.
      send(req, res, 200, TEXT_TYPE, 'ok\n');
      return;
    case '/readyz': {
      const body = await readinessBody(routes.readiness, routes.readinessTimeoutMs);
      send(req, res, body.ready ? 200 : 503, JSON_TYPE, JSON.stringify(body));
      return;
    }
    default:
      send(req, res, 404, TEXT_TYPE, 'not found; try /metrics, /healthz or /readyz\n');
  }
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(new Error(`metrics server: cannot listen on ${host}:${port}: ${error.message}`, { cause: error }));
    server.once('error', onError);
    // exclusive: in a cluster worker a non-exclusive listen goes through the primary's shared
    // handle, so every worker asked for port 0 would get the same port and /metrics would answer
    // from whichever worker the kernel picked. Metrics are per process.
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/**
 * Starts the HTTP server of a service's operational endpoints: `/metrics` (Prometheus text
 * format), `/healthz` (200 while the process runs) and `/readyz` (200, or 503 with a JSON body
 * `{"ready":false,"reasons":[...]}`).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const routes: Routes = {
    registry: options.registry,
    readiness: options.readiness ?? (() => ({ ready: true, reasons: [] })),
    readinessTimeoutMs: options.readinessTimeoutMs ?? 2_000,
  };
  if (!(routes.readinessTimeoutMs > 0)) throw new RangeError(`readinessTimeoutMs: must be > 0, got ${routes.readinessTimeoutMs}`);
  const { signal } = options;
  signal?.throwIfAborted();

  // Node checks header and request timeouts on this period (30 s by default, longer than the timeouts).
  const server = createServer({ connectionsCheckingInterval: 1_000 }, (req, res) => {
    handle(req, res, routes).catch((error: unknown) => {
      if (!res.headersSent) send(req, res, 500, TEXT_TYPE, `internal error: ${messageOf(error)}\n`);
      else res.destroy();
    });
  });
  // Bounds against slow or piling-up clients (a slowloris holding sockets open with partial
  // headers, a scraper leaking connections): this port is exposed to the cluster network.
  server.maxConnections = options.maxConnections ?? 64;
  server.headersTimeout = options.headersTimeoutMs ?? 5_000;
  server.requestTimeout = (options.headersTimeoutMs ?? 5_000) + routes.readinessTimeoutMs + 1_000;
  server.keepAliveTimeout = options.idleTimeoutMs ?? 30_000;
  server.timeout = options.idleTimeoutMs ?? 30_000;
  const address = await listen(server, options.port, host);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      signal?.removeEventListener('abort', onAbort);
      server.close((error) => (error ? reject(error) : resolve()));
      // server.close() stops accepting and ends idle keep-alive sockets (Node >= 19), but waits for
      // requests in progress: a readiness check stuck on a hung dependency would block shutdown.
      // A probe or scrape cut short at shutdown is harmless.
      server.closeAllConnections();
    });
    return closing;
  };
  const onAbort = (): void => void close().catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });

  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    close,
  };
}
