import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeFleetOptions, FakeHealth, FakeNode } from './fake-fleet.js';
import { repoRoot } from './service-process.js';

/**
 * Options of {@link startFleetProcess}: the fake fleet's own, except that the listen address of node
 * i is given as `hosts[i]` (a function cannot cross the process boundary).
 */
export interface FleetProcessOptions extends Omit<FakeFleetOptions, 'hostOf'> {
  /** Listen address of node i in `listeners` mode. Defaults to `host` for every node. */
  hosts?: readonly string[];
  /** Bound of the start (fork to the fleet listening), milliseconds. Defaults to 30 seconds. */
  startTimeoutMs?: number;
}

/** A fake edge fleet running in a process of its own. */
export interface FleetProcess {
  readonly pid: number;
  readonly nodes: readonly FakeNode[];
  node(id: string): FakeNode;
  /** Changes how a node answers; resolves once the fleet process has applied it. */
  setHealth(id: string, health: FakeHealth): Promise<void>;
  /** Closes the fleet and waits for its process to exit. Idempotent. */
  close(): Promise<void>;
}

/** Requests to the fleet process; each is answered by a {@link FleetReply} with the same `seq`. */
export type FleetRequest = { seq: number; type: 'setHealth'; id: string; health: FakeHealth };

/** Messages from the fleet process. */
export type FleetReply =
  | { type: 'ready'; nodes: FakeNode[] }
  | { type: 'failed'; error: string }
  | { seq: number; type: 'done' }
  | { seq: number; type: 'error'; error: string };

/**
 * Starts a fake edge fleet (fake-fleet.ts) in a child process (built code,
 * `libs/local-processes/dist/fleet-main.js`), so that its edges answer on time whatever the caller's
 * own event loop is doing. Edges are other machines: a fleet hosted by a test process stops answering
 * whenever the test itself is busy — decoding a large batch, running thousands of assertions, or
 * sharing a starved core — and every probe times out at once. The routing e2e did that under load:
 * its process stalled for up to a second, both probers timed out every edge two or three times in a
 * row, and the weight-calculator rightly took most of the fleet DOWN (in one CI run all of it, and
 * the resolver answered "all down"). The process ends when the caller closes it, and by itself when
 * the caller goes away (the IPC channel closes).
 */
export async function startFleetProcess(options: FleetProcessOptions): Promise<FleetProcess> {
  const main = join(repoRoot, 'libs', 'local-processes', 'dist', 'fleet-main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build first (npm run build)`);
  const { startTimeoutMs = 30_000, ...fleetOptions } = options;
  const child: ChildProcess = fork(main, [JSON.stringify(fleetOptions)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  let seq = 0;
  let gone = false;

  const failAll = (error: Error): void => {
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };
  void exited.then(() => {
    gone = true;
    failAll(new Error('fake fleet process exited'));
  });

  const nodes = await new Promise<FakeNode[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`fake fleet process: not listening within ${startTimeoutMs} ms`)), startTimeoutMs);
    const settle = (): void => {
      clearTimeout(timer);
      child.off('message', onStart);
    };
    const onStart = (message: FleetReply): void => {
      if (message.type === 'ready') {
        settle();
        resolve(message.nodes);
      } else if (message.type === 'failed') {
        settle();
        reject(new Error(`fake fleet process: ${message.error}`));
      }
    };
    child.on('message', onStart);
    void exited.then(() => {
      settle();
      reject(new Error('fake fleet process exited before listening'));
    });
  }).catch(async (error: unknown) => {
    // A start that failed must not leave its process behind.
    if (!gone) child.kill('SIGKILL');
    await exited;
    throw error;
  });

  child.on('message', (message: FleetReply) => {
    if (!('seq' in message)) return;
    const p = pending.get(message.seq);
    if (!p) return;
    pending.delete(message.seq);
    if (message.type === 'done') p.resolve();
    else p.reject(new Error(`fake fleet process: ${message.error}`));
  });

  const request = (body: Omit<FleetRequest, 'seq'>): Promise<void> =>
    new Promise((resolve, reject) => {
      if (gone || !child.connected) return reject(new Error('fake fleet process is gone'));
      const message: FleetRequest = { ...body, seq: ++seq };
      pending.set(message.seq, { resolve, reject });
      child.send(message);
    });

  const byId = new Map(nodes.map((n) => [n.id, n]));
  let closing: Promise<void> | undefined;
  return {
    pid: child.pid!,
    nodes,
    node(id) {
      const n = byId.get(id);
      if (!n) throw new Error(`fake fleet: no node ${id}`);
      return n;
    },
    setHealth: (id, health) => request({ type: 'setHealth', id, health }),
    close() {
      closing ??= (async () => {
        // The fleet process closes its listeners and exits when the channel closes.
        if (child.connected) child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
