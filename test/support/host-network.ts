import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { isProcessAlive as alive } from '@cdn-sched/testing';

const run = promisify(execFile);

/**
 * Hosts as Linux network namespaces on this machine (iproute2; needs root), joined by veth pairs to
 * bridges in the caller's namespace: the production topology of several machines, rehearsed on one.
 * Every name carries the creating process's pid, so a later run removes what a killed run left.
 */

/** One host: a network namespace with one address per network it is on. */
export interface Host {
  readonly name: string;
  /** The namespace (also the caller-side name of its first link). */
  readonly netns: string;
  /** Its address on the main network (services, clients, the test). */
  readonly address: string;
  /** Its address on the second network, when it is on it (etcd's peer traffic). */
  readonly peerAddress: string | undefined;
  /** Command prefix that runs a program on this host (`ip netns exec <netns>`: it execs, so the pid is the program's). */
  readonly wrap: readonly string[];
}

/** Options of {@link createHostNetwork}. */
export interface HostNetworkOptions {
  /** Hosts by name; `peer` also puts a host on the second network. */
  hosts: readonly { name: string; peer?: boolean }[];
  /**
   * Host names each host resolves (its /etc/hosts, through `ip netns exec`'s /etc/netns/<ns>/hosts):
   * name → the host names whose addresses it resolves to, in order.
   */
  names?: Readonly<Record<string, readonly string[]>>;
}

/** The network; faults are applied per host and undone by {@link HostNetwork.destroy}. */
export interface HostNetwork {
  readonly hosts: readonly Host[];
  host(name: string): Host;
  /** The caller's address on the main network (where a test's own servers listen). */
  readonly gatewayAddress: string;
  /** Whether this kernel has the netem queueing discipline (`tc qdisc ... netem`). */
  readonly netemSupported: boolean;
  /** Takes a host's link on one network down (`peer`: the second network only): the host is cut off there. */
  cut(host: string, network?: 'main' | 'peer'): Promise<void>;
  /** Brings the link up again. */
  heal(host: string, network?: 'main' | 'peer'): Promise<void>;
  /** `tc netem` on every packet leaving the host on the main network, e.g. `delay 100ms 20ms loss 1%`. */
  netem(host: string, spec: readonly string[]): Promise<void>;
  /** Removes the netem discipline again. */
  clearNetem(host: string): Promise<void>;
  /** Kills every process left on the hosts, deletes the namespaces, links and files. Idempotent. */
  destroy(): Promise<void>;
}

const PREFIX = 'cdnrh';

async function ip(args: readonly string[]): Promise<string> {
  try {
    return (await run('ip', args)).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** Synchronous removal of one namespace and what hangs off it (usable in an `exit` handler). */
function removeNamespaceSync(netns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8' }).stdout ?? '';
  for (const pid of pids.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', netns]);
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
}

function removeOwnedSync(owner: number): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (name.startsWith(`${PREFIX}${owner}h`)) removeNamespaceSync(name);
  }
  for (const link of [`${PREFIX}${owner}br`, `${PREFIX}${owner}pb`]) spawnSync('ip', ['link', 'del', link], { stdio: 'ignore' });
  try {
    // Only when empty: /etc/netns may hold other tools' namespaces.
    rmdirSync('/etc/netns');
  } catch {
    // not empty, or not there
  }
}

/** Removes namespaces and bridges of runs whose process is gone (a run killed before its teardown). */
export function removeAbandonedHosts(): string[] {
  const owners = new Set<number>();
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of list.matchAll(new RegExp(`^${PREFIX}(\\d+)h`, 'gm'))) owners.add(Number(m[1]));
  const links = spawnSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of links.matchAll(new RegExp(`: ${PREFIX}(\\d+)(br|pb)`, 'g'))) owners.add(Number(m[1]));
  const removed: string[] = [];
  for (const owner of owners) {
    if (owner === process.pid || alive(owner)) continue;
    removeOwnedSync(owner);
    removed.push(`${PREFIX}${owner}`);
  }
  return removed;
}

/** A /24 on each network not routed here yet: 10.<n>.<m>.0 with <m> from the pid. */
async function freeSubnets(): Promise<[string, string]> {
  const routes = await ip(['-4', 'route', 'show']);
  for (let i = 0; i < 250; i++) {
    const third = ((process.pid + i) % 250) + 1;
    const main = `10.231.${third}`;
    const peer = `10.232.${third}`;
    if (!routes.includes(`${main}.0/24`) && !routes.includes(`${peer}.0/24`)) return [main, peer];
  }
  throw new Error('host network: no free 10.231.x.0/24 subnet');
}

async function netemSupported(): Promise<boolean> {
  // A throwaway namespace: probe the kernel without touching any real interface.
  const probe = `${PREFIX}${process.pid}hprobe`;
  await ip(['netns', 'add', probe]);
  try {
    await ip(['netns', 'exec', probe, 'ip', 'link', 'set', 'lo', 'up']);
    await run('ip', ['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
    return true;
  } catch {
    return false;
  } finally {
    removeNamespaceSync(probe);
  }
}

/**
 * Builds the hosts: one namespace each, a veth pair per network it is on (the far end named `eth0`
 * / `eth1` inside), two bridges here (main network and peer network) with this process's address
 * on the main one. If anything fails on the way, what was built is removed before the error is
 * rethrown; a process that exits without `destroy` removes it in its `exit` handler.
 */
export async function createHostNetwork(options: HostNetworkOptions): Promise<HostNetwork> {
  removeAbandonedHosts();
  const owner = process.pid;
  const exitHook = (): void => removeOwnedSync(owner);
  process.once('exit', exitHook);
  let destroyed = false;
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    removeOwnedSync(owner);
    process.off('exit', exitHook);
  };

  try {
    const [main, peer] = await freeSubnets();
    const bridge = `${PREFIX}${owner}br`;
    const peerBridge = `${PREFIX}${owner}pb`;
    await ip(['link', 'add', bridge, 'type', 'bridge']);
    await ip(['addr', 'add', `${main}.254/24`, 'dev', bridge]);
    await ip(['link', 'set', bridge, 'up']);
    await ip(['link', 'add', peerBridge, 'type', 'bridge']);
    await ip(['link', 'set', peerBridge, 'up']);

    const hosts: Host[] = [];
    for (const [i, spec] of options.hosts.entries()) {
      const netns = `${PREFIX}${owner}h${i + 1}`;
      const address = `${main}.${i + 1}`;
      const peerAddress = spec.peer ? `${peer}.${i + 1}` : undefined;
      await ip(['netns', 'add', netns]);
      const inside = (args: readonly string[]): Promise<string> => ip(['-n', netns, ...args]);
      await inside(['link', 'set', 'lo', 'up']);
      const attach = async (link: string, to: string, dev: string, addr: string): Promise<void> => {
        await ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', dev, 'netns', netns]);
        await ip(['link', 'set', link, 'master', to]);
        await ip(['link', 'set', link, 'up']);
        await inside(['addr', 'add', `${addr}/24`, 'dev', dev]);
        await inside(['link', 'set', dev, 'up']);
      };
      await attach(netns, bridge, 'eth0', address);
      if (peerAddress) await attach(`${netns}p`, peerBridge, 'eth1', peerAddress);
      hosts.push({ name: spec.name, netns, address, peerAddress, wrap: ['ip', 'netns', 'exec', netns] });
    }

    // Each host's /etc/hosts: the caller's names, plus every host by name.
    const byName = new Map(hosts.map((h) => [h.name, h]));
    const lines = ['127.0.0.1 localhost', ...hosts.map((h) => `${h.address} ${h.name}`)];
    for (const [name, targets] of Object.entries(options.names ?? {})) {
      for (const t of targets) {
        const h = byName.get(t);
        if (!h) throw new Error(`host network: name ${name} points at unknown host ${t}`);
        lines.push(`${h.address} ${name}`);
      }
    }
    for (const h of hosts) {
      mkdirSync(`/etc/netns/${h.netns}`, { recursive: true });
      writeFileSync(`/etc/netns/${h.netns}/hosts`, `${lines.join('\n')}\n`);
    }

    const netem = await netemSupported();
    const hostNamed = (name: string): Host => {
      const h = byName.get(name);
      if (!h) throw new Error(`host network: no host ${name}`);
      return h;
    };
    const linkOf = (name: string, network: 'main' | 'peer'): string => `${hostNamed(name).netns}${network === 'peer' ? 'p' : ''}`;
    return {
      hosts,
      host: hostNamed,
      gatewayAddress: `${main}.254`,
      netemSupported: netem,
      async cut(name, network = 'main') {
        await ip(['link', 'set', linkOf(name, network), 'down']);
      },
      async heal(name, network = 'main') {
        await ip(['link', 'set', linkOf(name, network), 'up']);
      },
      async netem(name, spec) {
        if (!netem) throw new Error('host network: this kernel has no netem (CONFIG_NET_SCH_NETEM)');
        await run('ip', ['netns', 'exec', hostNamed(name).netns, 'tc', 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem', ...spec]);
      },
      async clearNetem(name) {
        await run('ip', ['netns', 'exec', hostNamed(name).netns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => undefined);
      },
      destroy,
    };
  } catch (error) {
    await destroy();
    throw error;
  }
}
