import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isProcessAlive as alive, repoRoot, waitFor } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { E2E_TLS } from '../support/mesh.js';

/**
 * A test runner that times out, or a `cdnctl mesh` killed with SIGKILL, cannot stop the services it
 * started. They used to live on as orphans (probing, holding ports, loading the next CI run); now a
 * service started by the launchers reads end-of-file on its stdin pipe and stops itself.
 */
// About process lifetimes, not the wire: runs in the plaintext pass only.
describe.skipIf(E2E_TLS)('services started by a launcher that dies', () => {
  it('stop themselves (gracefully, as on SIGTERM) when the launcher is SIGKILLed', async () => {
    const script = `
      const { startServiceProcess } = await import('@cdn-sched/local-processes');
      const p = await startServiceProcess({ service: 'resolver', env: { CONFIG_WATCHER: '127.0.0.1:1', WEIGHT_CALCULATORS: '127.0.0.1:2', GRPC_PORT: '0', METRICS_PORT: '0' } });
      console.log(JSON.stringify({ pid: p.pid }));
      setInterval(() => undefined, 1000);
    `;
    const launcher = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: join(repoRoot, 'test'), stdio: ['ignore', 'pipe', 'inherit'] });
    let servicePid = 0;
    try {
      const lines = createInterface({ input: launcher.stdout! });
      for await (const line of lines) {
        if (line.startsWith('{')) {
          servicePid = (JSON.parse(line) as { pid: number }).pid;
          break;
        }
      }
      expect(servicePid).toBeGreaterThan(0);
      expect(alive(servicePid)).toBe(true);
      launcher.kill('SIGKILL');
      // Graceful shutdown is bounded by SHUTDOWN_TIMEOUT_MS (10 s); generous for a loaded machine.
      await waitFor(() => !alive(servicePid), { timeoutMs: 30_000, message: `resolver ${servicePid} gone after its launcher was SIGKILLed` });
    } finally {
      if (launcher.exitCode === null) launcher.kill('SIGKILL');
      if (servicePid > 0 && alive(servicePid)) process.kill(servicePid, 'SIGKILL');
    }
  }, 120_000);
});
