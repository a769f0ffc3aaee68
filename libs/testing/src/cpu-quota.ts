import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { processTree } from './process-cpu.js';

/**
 * CPU quotas for benchmarks that measure how a service scales with its worker count on a machine
 * with fewer cores than the workers and the load client need: each process is put in a control
 * group of its own with a hard ceiling of `cores` CPUs (CFS bandwidth control: cgroup v1
 * `cpu.cfs_quota_us` over `cpu.cfs_period_us`, or cgroup v2 `cpu.max` — Linux
 * Documentation/scheduler/sched-bwc.rst). With every worker capped, N workers have N times the CPU
 * of one while the client keeps a core of its own, so a ratio of rates shows whether the workers'
 * capacity adds up (no shared bottleneck: the cluster primary, a shared socket, connection
 * balancing) rather than how the client and the workers time-share two cores.
 *
 * Needs root and a cgroup hierarchy with the cpu controller; {@link cpuQuotaSupport} says whether
 * this machine has one and, if not, why.
 */

/** A cgroup hierarchy whose cpu controller can cap a process. */
interface Hierarchy {
  readonly version: 1 | 2;
  readonly root: string;
}

// A short period spreads a capped process's CPU time evenly (100 ms, the default, lets it run 40 ms and then
// stop 60 ms at 0.4 CPU, which stalls its clients in bursts).
const PERIOD_US = 20_000;

/** The first cpu-controller hierarchy in /proc/mounts (v1 `cpu`, else v2 with `cpu` available), or why there is none. */
function findHierarchy(): Hierarchy | string {
  let mounts: string;
  try {
    mounts = readFileSync('/proc/mounts', 'utf8');
  } catch {
    return 'no /proc/mounts';
  }
  const lines = mounts.split('\n').map((l) => l.split(' '));
  for (const [, path, type, options] of lines) {
    if (type === 'cgroup' && path && options?.split(',').includes('cpu')) return { version: 1, root: path };
  }
  for (const [, path, type] of lines) {
    if (type !== 'cgroup2' || !path) continue;
    let controllers: string[];
    try {
      controllers = readFileSync(join(path, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
    } catch {
      continue;
    }
    if (controllers.includes('cpu')) return { version: 2, root: path };
  }
  return 'no cgroup hierarchy with the cpu controller is mounted';
}

/** The group `pid` is in, in hierarchy `h` (proc(7) /proc/<pid>/cgroup: `id:controllers:path`). */
function groupOf(pid: number, h: Hierarchy): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (h.version === 2 ? id === '0' : controllers!.split(',').includes('cpu')) return path;
  }
  return '/';
}

/** The hierarchy {@link limitCpu} can create groups in, or the reason there is none. */
function usableHierarchy(): Hierarchy | string {
  if (process.getuid?.() !== 0) return 'CPU quotas need root (cgroups)';
  const h = findHierarchy();
  if (typeof h === 'string') return h;
  // Root in a container may see the hierarchy read-only.
  const probe = join(h.root, `cdn-sched-probe-${process.pid}`);
  try {
    mkdirSync(probe);
    rmdirSync(probe);
  } catch (error) {
    return `cannot create a group in ${h.root} (${(error as Error).message})`;
  }
  return h;
}

/** Whether {@link limitCpu} can work here: `true`, or the reason it cannot. */
export function cpuQuotaSupport(): true | string {
  const h = usableHierarchy();
  return typeof h === 'string' ? h : true;
}

/** Processes under CPU quotas; {@link release} puts them back and removes the groups. */
export interface CpuQuota {
  /** Moves every capped process still alive back to the group it was in and removes the groups. Idempotent. */
  release(): void;
}

/**
 * Caps each of `pids` (every thread of it) at `cores` CPUs, each in a group of its own named
 * `<name>-<pid>`. Throws with the reason when this machine cannot ({@link cpuQuotaSupport}).
 */
export function limitCpu(pids: readonly number[], cores: number, name: string): CpuQuota {
  if (!(cores > 0)) throw new RangeError(`a CPU quota must be a positive number of cores, not ${cores}`);
  const h = usableHierarchy();
  if (typeof h === 'string') throw new Error(`cannot cap CPU: ${h}`);
  const quotaUs = Math.max(1000, Math.round(cores * PERIOD_US));
  if (h.version === 2) {
    // Children of the root get the cpu controller only once the root delegates it.
    const control = join(h.root, 'cgroup.subtree_control');
    if (!readFileSync(control, 'utf8').split(/\s+/).includes('cpu')) writeFileSync(control, '+cpu');
  }
  const groups: { path: string; pid: number; home: string }[] = [];
  const release = (): void => {
    for (const { path: group, pid, home } of groups.splice(0)) {
      try {
        writeFileSync(join(home, 'cgroup.procs'), String(pid));
      } catch {
        // Exited meanwhile.
      }
      try {
        rmdirSync(group);
      } catch {
        // A process that could not be moved out keeps the group; the kernel frees it when it exits.
      }
    }
  };
  try {
    for (const pid of pids) {
      const group = join(h.root, `${name}-${pid}`);
      const home = join(h.root, groupOf(pid, h));
      mkdirSync(group, { recursive: true });
      groups.push({ path: group, pid, home });
      if (h.version === 1) {
        writeFileSync(join(group, 'cpu.cfs_period_us'), String(PERIOD_US));
        writeFileSync(join(group, 'cpu.cfs_quota_us'), String(quotaUs));
      } else {
        writeFileSync(join(group, 'cpu.max'), `${quotaUs} ${PERIOD_US}`);
      }
      // cgroup.procs moves the whole thread group (every thread of the process).
      writeFileSync(join(group, 'cgroup.procs'), String(pid));
    }
  } catch (error) {
    release();
    throw new Error(`cannot cap CPU in ${h.root}: ${(error as Error).message}`, { cause: error });
  }
  return { release };
}

/**
 * The processes of a service that serve: its cluster workers when it forked some (`--workers N`,
 * N > 1: the primary only supervises), else the process itself.
 */
export function servingProcesses(pid: number): number[] {
  const tree = processTree(pid);
  return tree.length > 1 ? tree.slice(1) : tree;
}
