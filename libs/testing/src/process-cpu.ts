import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of a process and its descendants (a cluster primary and its workers, a server and the
 * helpers it forked), read from Linux's /proc: what a benchmark charges to a target that runs as
 * several processes. Linux only (proc(5)).
 */

/** The fields of /proc/<pid>/stat after the command name (which may itself hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // exited meanwhile
  }
}

/** `pid` and every live descendant, parents before their children. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // proc(5): field 4 is the parent's pid; fields counted from the state (field 3) here.
    const ppid = Number(statFields(Number(entry))?.[1]);
    if (Number.isInteger(ppid)) children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]!) ?? []));
  return out;
}

/**
 * User + system CPU time of `pid` and its live descendants, seconds. proc(5): utime and stime are
 * fields 14 and 15, in clock ticks of 1/100 s (USER_HZ, 100 on every Linux architecture Node runs
 * on). A descendant that exits between two readings takes its time with it: compare readings of
 * processes that live through the window.
 */
export function processTreeCpuSeconds(pid: number): number {
  let sum = 0;
  for (const p of processTree(pid)) {
    const fields = statFields(p);
    if (fields) sum += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return sum;
}
