import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { processTree, processTreeCpuSeconds } from './process-cpu.js';

/** Spins until it has used `argv[1]` ms of CPU (not wall time: on a loaded machine that takes longer), says so, then idles until its parent goes. */
const CHILD = `
const want = Number(process.argv[1]) * 1000;
const used = () => { const u = process.cpuUsage(); return u.user + u.system; };
while (used() < want);
process.send('spun');
process.on('disconnect', () => process.exit(0));
setInterval(() => {}, 1000);
`;
/** Starts CHILD with an IPC channel and prints the child's pid once it has spun. */
const PARENT = `
const { spawn } = require('node:child_process');
const child = spawn(process.execPath, ['-e', ${JSON.stringify(CHILD)}, process.argv[1]], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
child.on('message', (m) => process.stdout.write(child.pid + ' ' + m + '\\n'));
setInterval(() => {}, 1000);
`;

describe('processTree and processTreeCpuSeconds', () => {
  it('include a grandchild and charge its CPU time to the root', async () => {
    const root = spawn(process.execPath, ['-e', PARENT, '500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let line = '';
      root.stdout.setEncoding('utf8');
      while (!line.includes('\n')) {
        const [chunk] = (await once(root.stdout, 'data')) as [string];
        line += chunk;
      }
      const [childPid, word] = line.trim().split(' ');
      expect(word).toBe('spun');
      const tree = processTree(root.pid!);
      expect(tree[0]).toBe(root.pid);
      expect(tree).toContain(Number(childPid));
      // The grandchild alone used 500 ms of CPU (counted in 10 ms ticks).
      const child = processTreeCpuSeconds(Number(childPid));
      expect(child).toBeGreaterThanOrEqual(0.48);
      expect(processTreeCpuSeconds(root.pid!)).toBeGreaterThan(child);
    } finally {
      root.kill('SIGKILL');
    }
  }, 60_000);

  it('is just the pid, with no CPU time, for a pid that does not exist', () => {
    const missing = 2 ** 22 + 17; // above Linux's largest pid_max
    expect(processTree(missing)).toEqual([missing]);
    expect(processTreeCpuSeconds(missing)).toBe(0);
  });
});
