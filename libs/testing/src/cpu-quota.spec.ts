import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuQuotaSupport, limitCpu, servingProcesses } from './cpu-quota.js';
import { processTreeCpuSeconds } from './process-cpu.js';

const support = cpuQuotaSupport();
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A process that spins on one core until killed. */
function spinner(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

describe('servingProcesses', () => {
  it('is the workers of a process that forked some, else the process itself', async () => {
    const parent = spawn(process.execPath, ['-e', `const c = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }); process.stdout.write(c.pid + '\\n'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(parent);
    parent.stdout!.setEncoding('utf8');
    const [line] = (await once(parent.stdout!, 'data')) as [string];
    const worker = Number(line.trim());
    expect(servingProcesses(parent.pid!)).toEqual([worker]);
    expect(servingProcesses(worker)).toEqual([worker]);
    process.kill(worker, 'SIGKILL');
  });
});

describe.skipIf(support !== true)(`limitCpu${support === true ? '' : ` (skipped: ${support})`}`, () => {
  it('holds a spinning process under its quota, and release puts it back and removes the group', async () => {
    const child = spinner();
    const quota = limitCpu([child.pid!], 0.2, 'cdn-sched-quota-spec');
    const group = readFileSync(`/proc/${child.pid}/cgroup`, 'utf8');
    expect(group).toContain(`cdn-sched-quota-spec-${child.pid}`);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const cpu0 = processTreeCpuSeconds(child.pid!);
      const t0 = performance.now();
      await new Promise((r) => setTimeout(r, 2000));
      const cores = (processTreeCpuSeconds(child.pid!) - cpu0) / ((performance.now() - t0) / 1000);
      // 0.2 of a core at most (4 ms in every 20 ms period); an uncapped spinner takes a whole core
      // on an idle machine. No lower bound: a busy machine may give it less.
      expect(cores).toBeLessThan(0.3);
    } finally {
      quota.release();
    }
    expect(readFileSync(`/proc/${child.pid}/cgroup`, 'utf8')).not.toContain('cdn-sched-quota-spec');
    const hierarchy = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1]);
    expect(hierarchy.some((root) => root && existsSync(`${root}/cdn-sched-quota-spec-${child.pid}`))).toBe(false);
    quota.release();
  });

  it('refuses a quota that is not a positive number of cores', () => {
    expect(() => limitCpu([process.pid], 0, 'cdn-sched-quota-spec')).toThrow(/positive number of cores/);
  });
});
