import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { isProcessAlive as alive } from './kill-quietly.js';
import { killWithParent } from './kill-with-parent.js';
import { waitFor } from './wait-for.js';

describe('killWithParent', () => {
  it('a child outlives nothing: SIGKILL of its parent process kills it too', async () => {
    // The parent: a node process that starts `sleep 300` tied to itself, prints its pid and waits.
    const built = join(import.meta.dirname, '..', 'dist', 'kill-with-parent.js');
    const script = `const { spawn } = await import('node:child_process'); const { killWithParent } = await import(${JSON.stringify(built)});
      const child = spawn('sleep', ['300'], { stdio: 'ignore' }); killWithParent(child); process.stdout.write(child.pid + '\\n'); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    onTestFinished(() => void parent.kill('SIGKILL'));
    let printed = '';
    parent.stderr!.on('data', (chunk: Buffer) => (printed += `[stderr] ${chunk.toString()}`));
    const pid = await new Promise<number>((resolve, reject) => {
      parent.stdout!.on('data', (chunk: Buffer) => {
        printed += chunk.toString();
        const line = /^(\d+)$/m.exec(printed);
        if (line) resolve(Number(line[1]));
      });
      setTimeout(() => reject(new Error(`no pid from the parent in 20 s; it printed: ${printed}`)), 20_000).unref();
      parent.once('exit', (code) => reject(new Error(`parent exited with ${code} before printing its child's pid; it printed: ${printed}`)));
    });
    // (Written with process.stdout.write: console.log colours a number when FORCE_COLOR is set, as Nx sets it.)
    expect(alive(pid), `child ${pid} alive before its parent dies (parent printed: ${printed})`).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(pid), { timeoutMs: 20_000, message: `sleep (pid ${pid}) gone after its parent was SIGKILLed` });
  }, 60_000);

  it('releasing (or the child exiting) leaves the child alone and does not hold this process open', async () => {
    const child = spawn('sleep', ['300'], { stdio: 'ignore' });
    const release = killWithParent(child);
    release();
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(child.pid!)).toBe(true);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    // A child that exits by itself takes its watchdog with it.
    const short = spawn('true', [], { stdio: 'ignore' });
    killWithParent(short);
    await new Promise((r) => short.once('exit', r));
  });
});
