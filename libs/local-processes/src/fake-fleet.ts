import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * How a fake edge node answers its health endpoint.
 * - `up`: 200 with `{"status":"ok","load":x}` and/or `X-Edge-Load`.
 * - `http500`: 500 with a JSON error body.
 * - `timeout`: reads the request and never answers (the connection stays open).
 * - `refused`: the node's listener is closed, so connects get ECONNREFUSED (mode `listeners` only).
 * - `reset`: the connection is reset (RST) when the request arrives.
 * - `badBody`: 200 whose load report is malformed (truncated JSON, or a non-numeric header).
 * - `slow`: status and headers at once, the body only after the node's latency or `slowBodyMs`.
 */
export type FakeHealth = 'up' | 'http500' | 'timeout' | 'refused' | 'reset' | 'badBody' | 'slow';

/** Where a fake node reports its load. */
export type LoadReporting = 'body' | 'header' | 'both';

/** Options of {@link createFakeFleet}. */
export interface FakeFleetOptions {
  /** Number of nodes, ids `${idPrefix}${i}` for i in 0..count-1. */
  count: number;
  /** Loopback address to listen on. Defaults to `127.0.0.1`. */
  host?: string;
  /**
   * Listen address of node i in `listeners` mode, instead of `host`: distinct loopback addresses
   * (127.0.0.x) let a DNS answer show which edge was chosen. Defaults to `host` for every node.
   */
  hostOf?(index: number): string;
  /**
   * `listeners`: one HTTP listener per node (its own port; supports `refused`). `virtual`: a few
   * shared listeners, the node chosen by the path `/n/<id>/health`, for fleets of 10 k nodes that
   * would otherwise need 10 k listening sockets. Defaults to `listeners` up to 1,000 nodes, else
   * `virtual`.
   */
  mode?: 'listeners' | 'virtual';
  /** Shared listeners in `virtual` mode; node i is served by listener i mod n. Defaults to 1. */
  listeners?: number;
  /** Prefix of node ids. Defaults to `edge-`. */
  idPrefix?: string;
  /**
   * Server keep-alive idle timeout, ms. Defaults to 65 s: longer than any probe interval, as on real
   * edges (nginx's `keepalive_timeout` is 75 s); Node's own 5 s default would close every idle
   * connection just before a 5 s prober comes back, defeating keep-alive.
   */
  keepAliveTimeoutMs?: number;
  /** Body delay of `slow` nodes whose latency is 0, ms. Defaults to 1000. */
  slowBodyMs?: number;
  /** Initial load of every node (0..1), or null for none. Defaults to null. */
  load?: number | null;
}

/** Where to probe one fake node. */
export interface FakeNode {
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** HTTP path of its health endpoint: `/health`, or `/n/<id>/health` in `virtual` mode. */
  readonly path: string;
}

/** A fleet of fake edge nodes on loopback whose behaviour a test controls node by node. */
export interface FakeFleet {
  readonly mode: 'listeners' | 'virtual';
  readonly nodes: readonly FakeNode[];
  node(id: string): FakeNode;
  /** Changes how a node answers; resolves once a listener it closes or reopens is settled. */
  setHealth(id: string, health: FakeHealth): Promise<void>;
  /** Delay before the node answers (or resets), ms. */
  setLatencyMs(id: string, latencyMs: number): void;
  /** Load reported by the node (any number, to test validation), or null to report none. */
  setLoad(id: string, load: number | null, reporting?: LoadReporting): void;
  /** HTTP requests the node received since the start (or the last `resetCounters`). */
  requests(id: string): number;
  /** TCP connections that carried (or, in `listeners` mode, were opened for) the node's requests. */
  connections(id: string): number;
  /** Requests of all nodes, TCP connections accepted, and connections open now. */
  totals(): { requests: number; connections: number; openConnections: number };
  resetCounters(): void;
  /** Closes every listener and socket and clears every timer; resolves when all are gone. */
  close(): Promise<void>;
}

interface Listener {
  readonly server: Server;
  readonly host: string;
  port: number;
  listening: boolean;
  readonly sockets: Set<Socket>;
  /** The node it serves, in `listeners` mode. */
  readonly node: NodeState | undefined;
}

interface NodeState {
  node: FakeNode;
  listener: Listener;
  health: FakeHealth;
  latencyMs: number;
  load: number | null;
  reporting: LoadReporting;
  requests: number;
  connections: number;
}

const JSON_TYPE = 'application/json';

/** Starts a fake edge fleet on loopback ports chosen by the kernel. */
export async function createFakeFleet(options: FakeFleetOptions): Promise<FakeFleet> {
  const host = options.host ?? '127.0.0.1';
  const mode = options.mode ?? (options.count <= 1000 ? 'listeners' : 'virtual');
  const idPrefix = options.idPrefix ?? 'edge-';
  const keepAliveTimeoutMs = options.keepAliveTimeoutMs ?? 65_000;
  const slowBodyMs = options.slowBodyMs ?? 1000;
  const listeners: Listener[] = [];
  const states = new Map<string, NodeState>();
  const timers = new Set<NodeJS.Timeout>();
  // Virtual mode: which nodes each socket has carried, to count connections per node.
  const socketNodes = new WeakMap<Socket, Set<NodeState>>();
  let closed: Promise<void> | undefined;
  let accepted = 0;

  const later = (delayMs: number, fn: () => void): void => {
    if (delayMs <= 0) return fn();
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, delayMs);
    timers.add(timer);
  };

  const countConnection = (state: NodeState, socket: Socket): void => {
    if (mode === 'listeners') return; // counted on 'connection'
    let seen = socketNodes.get(socket);
    if (!seen) socketNodes.set(socket, (seen = new Set()));
    if (!seen.has(state)) {
      seen.add(state);
      state.connections++;
    }
  };

  const respond = (state: NodeState, req: IncomingMessage, res: ServerResponse): void => {
    const { health, load, reporting } = state;
    const inBody = reporting !== 'header' && load !== null;
    const inHeader = reporting !== 'body' && load !== null;
    switch (health) {
      case 'timeout':
        return; // closeAllConnections() ends it on close
      case 'reset':
      case 'refused':
        req.socket.resetAndDestroy();
        return;
      case 'http500':
        res.writeHead(500, { 'content-type': JSON_TYPE }).end('{"status":"error"}');
        return;
      case 'badBody': {
        const headers: Record<string, string> = { 'content-type': JSON_TYPE };
        if (reporting !== 'body') headers['x-edge-load'] = 'lots';
        res.writeHead(200, headers).end(reporting === 'header' ? '{"status":"ok"}' : '{"status":"ok","load":');
        return;
      }
      case 'up':
      case 'slow': {
        const headers: Record<string, string> = { 'content-type': JSON_TYPE };
        if (inHeader) headers['x-edge-load'] = String(load);
        const body = inBody ? `{"status":"ok","load":${load}}` : '{"status":"ok"}';
        if (health === 'up') {
          res.writeHead(200, headers).end(body);
          return;
        }
        res.writeHead(200, headers);
        res.flushHeaders();
        later(state.latencyMs > 0 ? state.latencyMs : slowBodyMs, () => res.end(body));
        return;
      }
    }
  };

  const onRequest = (listener: Listener, req: IncomingMessage, res: ServerResponse): void => {
    const state = listener.node ?? virtualNode(req.url ?? '');
    if (!state) {
      res.writeHead(404).end();
      return;
    }
    state.requests++;
    countConnection(state, req.socket);
    // A slow node's latency delays its body, not its headers.
    later(state.health === 'slow' ? 0 : state.latencyMs, () => {
      if (!res.destroyed) respond(state, req, res);
    });
  };

  const virtualNode = (url: string): NodeState | undefined => {
    if (!url.startsWith('/n/')) return undefined;
    const end = url.indexOf('/', 3);
    return states.get(url.slice(3, end === -1 ? undefined : end));
  };

  const listen = (listener: Listener, port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      listener.server.once('error', onError);
      listener.server.listen(port, listener.host, () => {
        listener.server.off('error', onError);
        const address = listener.server.address();
        listener.port = typeof address === 'object' && address ? address.port : port;
        listener.listening = true;
        resolve();
      });
    });

  const shut = (listener: Listener): Promise<void> =>
    new Promise((resolve) => {
      if (!listener.listening) return resolve();
      listener.listening = false;
      listener.server.close(() => resolve());
      listener.server.closeAllConnections();
      // Sockets still opening (not yet an HTTP connection) are not covered by closeAllConnections.
      for (const socket of listener.sockets) socket.destroy();
    });

  const newListener = (node: NodeState | undefined, listenHost: string): Listener => {
    const server = createServer({ keepAliveTimeout: keepAliveTimeoutMs });
    const listener: Listener = { server, host: listenHost, port: 0, listening: false, sockets: new Set(), node };
    server.on('connection', (socket: Socket) => {
      accepted++;
      listener.sockets.add(socket);
      socket.once('close', () => listener.sockets.delete(socket));
      if (listener.node) listener.node.connections++;
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => onRequest(listener, req, res));
    return listener;
  };

  const listenerCount = mode === 'listeners' ? options.count : Math.max(1, options.listeners ?? 1);
  const nodeStates: NodeState[] = [];
  for (let i = 0; i < options.count; i++) {
    const state: NodeState = {
      node: { id: `${idPrefix}${i}`, address: host, port: 0, path: '/health' },
      listener: undefined as unknown as Listener,
      health: 'up',
      latencyMs: 0,
      load: options.load ?? null,
      reporting: 'both',
      requests: 0,
      connections: 0,
    };
    nodeStates.push(state);
    states.set(state.node.id, state);
  }
  for (let i = 0; i < listenerCount; i++) {
    const listenHost = mode === 'listeners' && options.hostOf ? options.hostOf(i) : host;
    listeners.push(newListener(mode === 'listeners' ? nodeStates[i] : undefined, listenHost));
  }
  await Promise.all(listeners.map((l) => listen(l, 0)));
  nodeStates.forEach((state, i) => {
    state.listener = listeners[i % listenerCount]!;
    const path = mode === 'listeners' ? '/health' : `/n/${state.node.id}/health`;
    state.node = { id: state.node.id, address: state.listener.host, port: state.listener.port, path };
  });

  const get = (id: string): NodeState => {
    const state = states.get(id);
    if (!state) throw new Error(`fake fleet: no node ${id}`);
    return state;
  };

  return {
    mode,
    nodes: nodeStates.map((s) => s.node),
    node: (id) => get(id).node,
    async setHealth(id, health) {
      const state = get(id);
      if (health === 'refused' && mode !== 'listeners') {
        throw new Error('fake fleet: `refused` needs mode `listeners` (a shared listener cannot refuse one node)');
      }
      state.health = health;
      if (mode !== 'listeners' || closed) return;
      // Reopen on the same port, so the node keeps its address.
      if (health === 'refused') await shut(state.listener);
      else if (!state.listener.listening) await listen(state.listener, state.listener.port);
    },
    setLatencyMs(id, latencyMs) {
      get(id).latencyMs = latencyMs;
    },
    setLoad(id, load, reporting = 'both') {
      const state = get(id);
      state.load = load;
      state.reporting = reporting;
    },
    requests: (id) => get(id).requests,
    connections: (id) => get(id).connections,
    totals() {
      const requests = nodeStates.reduce((n, s) => n + s.requests, 0);
      const openConnections = listeners.reduce((n, l) => n + l.sockets.size, 0);
      return { requests, connections: accepted, openConnections };
    },
    resetCounters() {
      for (const s of nodeStates) s.requests = s.connections = 0;
      accepted = 0;
    },
    close() {
      closed ??= (async () => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        await Promise.all(listeners.map(shut));
      })();
      return closed;
    },
  };
}
