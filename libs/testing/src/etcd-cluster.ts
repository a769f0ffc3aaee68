import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findEtcdBinary, getFreePort, killWithParent } from '@cdn-sched/local-processes';
import { scrape, type Scrape } from './prometheus-text.js';

const execFileAsync = promisify(execFile);

/** Client TLS of a test cluster (files from `createTestPki`). */
export interface EtcdClusterTls {
  caFile: string;
  /** One server certificate for every member (its SAN is 127.0.0.1). */
  certFile: string;
  keyFile: string;
  /** etcd `--client-cert-auth`: clients must present a certificate signed by `caFile`. */
  clientCertAuth?: boolean;
  /** Members talk to each other over TLS too (the same files; `--peer-client-cert-auth`). Defaults to false. */
  peerTls?: boolean;
}

/**
 * Where one member runs when it is not on this network namespace's loopback: its own address (a
 * host of a multi-host rehearsal) and the command that runs a program there.
 */
export interface EtcdMemberHost {
  /** Address the member's client and metrics URLs bind and advertise (its certificate must name it). */
  address: string;
  /** Address of its peer URL (a separate network for raft traffic). Defaults to `address`. */
  peerAddress?: string;
  /** Command prefix that runs etcd on that host, e.g. `['ip', 'netns', 'exec', 'host-1']` (it must exec, keeping the pid). */
  wrap?: readonly string[];
}

/** Options of {@link startEtcdCluster}. */
export interface EtcdClusterOptions {
  /** Members. Defaults to the number of `hosts` when given, else 3. */
  size?: number;
  /** etcd binary. Defaults to `$ETCD_BIN`, else `etcd` on PATH. */
  binary?: string;
  /** https client URLs with these files; plain http when absent. */
  tls?: EtcdClusterTls;
  /** How long to wait for every member to be healthy (a leader elected). Defaults to 20 seconds. */
  startTimeoutMs?: number;
  /** Extra flags for every member. */
  extraArgs?: readonly string[];
  /**
   * One host per member (`size` is then their number): each member binds its host's address on
   * etcd's standard ports (2379 client, 2380 peer, 2381 metrics). Defaults to loopback of this
   * namespace on free ports.
   */
  hosts?: readonly EtcdMemberHost[];
}

/** One member of a test cluster. */
export interface EtcdMember {
  readonly name: string;
  /** Client URL (`http://127.0.0.1:<port>` or `https://…`). */
  readonly endpoint: string;
  readonly clientPort: number;
  /** Plain-http URL of /health and /metrics (etcd `--listen-metrics-urls`), reachable even with TLS. */
  readonly metricsUrl: string;
  readonly pid: number | undefined;
  /** Whether the process is running (not killed; a paused process counts as running). */
  readonly running: boolean;
  /** SIGKILL (data dir kept): a crash. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data dir; it rejoins the cluster. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: alive, connections open, answering nothing. */
  pause(): void;
  resume(): void;
  /** An unlabelled metric of this member's scrape (a gauge or counter); undefined while it does not answer. */
  metric(name: string, timeoutMs?: number): Promise<number | undefined>;
  /** Whether this member is the raft leader now (its `etcd_server_is_leader` metric). */
  isLeader(): Promise<boolean>;
  /** Watchers this member serves now (its `etcd_debugging_mvcc_watcher_total` gauge; 0 when it does not answer). */
  watchers(): Promise<number>;
}

/** A throwaway etcd cluster on loopback (or on the hosts it was given). */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's client URL, for ETCD_ENDPOINTS. */
  readonly endpoints: string[];
  /** The member that leads now; waits up to `timeoutMs` (default 10 s) for an election to end. */
  leader(timeoutMs?: number): Promise<EtcdMember>;
  /** The running members that serve at least one watch now: which member a client's watch is on. */
  watchedMembers(): Promise<EtcdMember[]>;
  /**
   * Makes `member` the leader (etcd's MoveLeader, `etcdctl move-leader`, which only the current
   * leader accepts) and waits until it leads; nothing to do when it already does.
   */
  moveLeader(member: EtcdMember, timeoutMs?: number): Promise<void>;
  /** Stops every member and removes the data dirs. Idempotent. */
  stop(): Promise<void>;
}

/** `name` of the scrape at `url`; undefined while the member cannot be reached. */
async function metric(url: string, name: string, timeoutMs: number): Promise<number | undefined> {
  let metrics: Scrape;
  try {
    metrics = await scrape(`${url}/metrics`, timeoutMs);
  } catch {
    return undefined;
  }
  return metrics.value(name);
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
    return ((await res.json()) as { health?: string }).health === 'true';
  } catch {
    return false;
  }
}

/**
 * Spawns a `size`-member etcd cluster on free loopback ports (static bootstrap, temporary data
 * dirs), optionally with client TLS, and waits until every member reports healthy. Members can be
 * killed, restarted, paused and resumed one by one: the failures an etcd client has to survive.
 */
export async function startEtcdCluster(options: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  // A port can still be taken between the check and etcd's bind: try again with new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test(String((error as Error).message))) throw error;
    }
  }
}

async function startOnce(options: EtcdClusterOptions): Promise<EtcdCluster> {
  const binary = findEtcdBinary(options.binary);
  const hosts = options.hosts;
  const size = hosts?.length ?? options.size ?? 3;
  const scheme = options.tls ? 'https' : 'http';
  const peerScheme = options.tls?.peerTls ? 'https' : 'http';
  const root = await mkdtemp(join(tmpdir(), 'cdn-sched-etcd-cluster-'));
  const specs: { name: string; ip: string; peerIp: string; clientPort: number; peerPort: number; metricsPort: number }[] = [];
  const taken = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await getFreePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  for (let i = 0; i < size; i++) {
    // A host of its own has a port space of its own: etcd's standard ports are free there.
    const host = hosts?.[i];
    if (host) specs.push({ name: `m${i}`, ip: host.address, peerIp: host.peerAddress ?? host.address, clientPort: 2379, peerPort: 2380, metricsPort: 2381 });
    else specs.push({ name: `m${i}`, ip: '127.0.0.1', peerIp: '127.0.0.1', clientPort: await port(), peerPort: await port(), metricsPort: await port() });
  }
  const initialCluster = specs.map((s) => `${s.name}=${peerScheme}://${s.peerIp}:${s.peerPort}`).join(',');
  const tls = options.tls;
  const tlsArgs = tls
    ? [
        '--cert-file', tls.certFile, '--key-file', tls.keyFile, '--trusted-ca-file', tls.caFile,
        ...(tls.clientCertAuth ? ['--client-cert-auth'] : []),
        ...(tls.peerTls ? ['--peer-cert-file', tls.certFile, '--peer-key-file', tls.keyFile, '--peer-trusted-ca-file', tls.caFile, '--peer-client-cert-auth'] : []),
      ]
    : [];

  const members = specs.map((s, i) => {
    const endpoint = `${scheme}://${s.ip}:${s.clientPort}`;
    const metricsUrl = `http://${s.ip}:${s.metricsPort}`;
    const peerUrl = `${peerScheme}://${s.peerIp}:${s.peerPort}`;
    const wrap = hosts?.[i]?.wrap ?? [];
    const args = [
      '--name', s.name,
      '--data-dir', join(root, s.name),
      '--listen-client-urls', endpoint,
      '--advertise-client-urls', endpoint,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--listen-metrics-urls', metricsUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', root,
      '--logger', 'zap',
      '--log-level', 'error',
      ...tlsArgs,
      ...(options.extraArgs ?? []),
    ];
    let child: ChildProcess | undefined;
    let output = '';
    const launch = (): void => {
      output = '';
      child = wrap.length > 0 ? spawn(wrap[0]!, [...wrap.slice(1), binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] }) : spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      // A member must not outlive a test runner that is killed before its teardown.
      killWithParent(child);
      child.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-4000);
      });
    };
    const alive = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;
    const waitExit = (): Promise<void> =>
      new Promise((resolve) => {
        if (!alive()) resolve();
        else child!.once('exit', () => resolve());
      });
    const member: EtcdMember & { launch(): void; output(): string; exited(): boolean; stop(): Promise<void>; waitHealthy(timeoutMs: number): Promise<void> } = {
      name: s.name,
      endpoint,
      clientPort: s.clientPort,
      metricsUrl,
      get pid() {
        return child?.pid;
      },
      get running() {
        return alive();
      },
      launch,
      output: () => output,
      exited: () => child !== undefined && child.exitCode !== null,
      async kill() {
        child?.kill('SIGKILL');
        await waitExit();
      },
      async restart() {
        if (alive()) {
          child!.kill('SIGKILL');
          await waitExit();
        }
        launch();
        await member.waitHealthy(options.startTimeoutMs ?? 20_000);
      },
      pause() {
        child?.kill('SIGSTOP');
      },
      resume() {
        child?.kill('SIGCONT');
      },
      metric(name, timeoutMs = 2000) {
        return metric(metricsUrl, name, timeoutMs);
      },
      async isLeader() {
        return (await metric(metricsUrl, 'etcd_server_is_leader', 500)) === 1;
      },
      async watchers() {
        return (await metric(metricsUrl, 'etcd_debugging_mvcc_watcher_total', 1000)) ?? 0;
      },
      async waitHealthy(timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          if (member.exited()) throw new Error(`etcd member ${s.name} exited with code ${child!.exitCode} during start:\n${output}`);
          if (await healthy(metricsUrl)) return;
          await new Promise((r) => setTimeout(r, 50));
        }
        throw new Error(`etcd member ${s.name} not healthy within ${timeoutMs} ms:\n${output}`);
      },
      async stop() {
        if (!alive()) return;
        child!.kill('SIGCONT');
        child!.kill('SIGTERM');
        const timer = setTimeout(() => child!.kill('SIGKILL'), 5000);
        await waitExit();
        clearTimeout(timer);
      },
    };
    return member;
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(members.map((m) => m.stop()));
    await rm(root, { recursive: true, force: true });
  };
  try {
    for (const m of members) m.launch();
    await Promise.all(members.map((m) => m.waitHealthy(options.startTimeoutMs ?? 20_000)));
  } catch (error) {
    await stop();
    throw error;
  }

  const leader = async (timeoutMs = 10_000): Promise<EtcdMember> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const m of members) if (m.running && (await m.isLeader())) return m;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no etcd leader within ${timeoutMs} ms`);
  };
  return {
    members,
    endpoints: members.map((m) => m.endpoint),
    leader,
    async moveLeader(member, timeoutMs = 10_000) {
      const current = await leader(timeoutMs);
      if (current === member) return;
      const etcdctl = async (args: string[]): Promise<string> => {
        const tlsArgs = options.tls ? [`--cacert=${options.tls.caFile}`, `--cert=${options.tls.certFile}`, `--key=${options.tls.keyFile}`] : [];
        const { stdout } = await execFileAsync(process.env['ETCDCTL_BIN'] ?? 'etcdctl', [`--endpoints=${current.endpoint}`, ...tlsArgs, ...args], {
          env: { ...process.env, ETCDCTL_API: '3' },
          timeout: timeoutMs,
        });
        return stdout;
      };
      // `member list`: "<hex id>, started, <name>, <peer urls>, <client urls>, <is learner>" per line.
      const id = (await etcdctl(['member', 'list'])).split('\n').map((line) => line.split(', ')).find((fields) => fields[2] === member.name)?.[0];
      if (!id) throw new Error(`etcd member ${member.name} is not in the member list`);
      await etcdctl(['move-leader', id]);
      const deadline = Date.now() + timeoutMs;
      while (!(await member.isLeader())) {
        if (Date.now() > deadline) throw new Error(`etcd member ${member.name} did not lead within ${timeoutMs} ms of move-leader`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async watchedMembers() {
      const out: EtcdMember[] = [];
      for (const m of members) if (m.running && (await m.watchers()) > 0) out.push(m);
      return out;
    },
    stop,
  };
}
