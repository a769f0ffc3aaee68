import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { repoRoot, waitFor } from '@cdn-sched/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runCdnctl } from '../support/cdnctl.js';
import { E2E_TLS } from '../support/mesh.js';
import { failWithOutput } from '../support/process-output.js';

/** True while something accepts connections on 127.0.0.1:port. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/**
 * The newcomer's path, as the README walks it: `npm start` (here its command, `cdnctl mesh`, run
 * from the built code), then `cdnctl resolve` and `cdnctl node drain` from another "terminal" with no
 * endpoints configured (the mesh publishes its etcd address), then Ctrl-C.
 */
// Plain `npm start` by name; its mutual-TLS twin is npm-start-tls.spec.ts. Plaintext pass only.
describe.skipIf(E2E_TLS)('npm start: the local mesh as a newcomer meets it', () => {
  let mesh: ChildProcess | undefined;
  let output = '';
  const withOutput = failWithOutput(() => output);
  afterAll(() => {
    if (mesh && mesh.exitCode === null) mesh.kill('SIGKILL');
  });

  it('starts, answers 1.0.8.1 from a Guangdong Telecom edge, follows a drain, and stops cleanly on Ctrl-C', async () => {
    const bin = join(repoRoot, 'services', 'cdnctl', 'bin', 'cdnctl.js');
    mesh = spawn(process.execPath, [bin, 'mesh', '--status-interval-ms', '500'], { stdio: ['ignore', 'pipe', 'pipe'] });
    mesh.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    mesh.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    // Generous, as for the mutual-TLS twin: seven processes start one kind after the other on a
    // machine that may be saturated. A mesh that exits (a default port taken, say) ends the wait at
    // once, and the failure shows what it printed by then.
    await waitFor(() => output.includes('Ctrl-C stops everything') || mesh!.exitCode !== null, { timeoutMs: 300_000, message: 'the mesh to start' }).catch(withOutput);
    expect(mesh.exitCode, output).toBeNull();
    const dataDir = /data dir (\S+)\)/.exec(output)?.[1];
    expect(dataDir).toBeDefined();
    await waitFor(() => /healthy 15\/15 nodes/.test(output), { timeoutMs: 30_000, message: 'every demo edge healthy' }).catch(withOutput);

    const env = { ETCD_ENDPOINTS: '' };
    const first = await runCdnctl(['resolve', '1.0.8.1', 'music.demo.example', '--json'], env);
    expect(first.code).toBe(0);
    const decision = first.json()[0]!;
    expect(decision['location']).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    expect(decision['tier']).toBe('isp+region');
    const answered = (decision['answers'] as { nodeId: string }[])[0]!.nodeId;
    expect(['gd-ct-1', 'gd-ct-2']).toContain(answered);

    const drain = await runCdnctl(['node', 'drain', answered, '--json'], env);
    expect(drain.code).toBe(0);
    await waitFor(
      async () => {
        const after = await runCdnctl(['resolve', '1.0.8.1', 'music.demo.example', '--json'], env);
        const nodeId = (after.json()[0]?.['answers'] as { nodeId: string }[] | undefined)?.[0]?.nodeId;
        return nodeId !== undefined && nodeId !== answered;
      },
      { timeoutMs: 5000, message: `an answer other than the drained ${answered}` },
    );

    mesh.kill('SIGINT');
    await waitFor(() => mesh!.exitCode !== null, { timeoutMs: 30_000, message: 'the mesh to stop' }).catch(withOutput);
    expect(output).toContain('mesh stopped');
    for (const port of [50051, 50052, 50053, 50054, 50062]) expect(await listening(port)).toBe(false);
    expect(existsSync(dataDir!)).toBe(false);
    // Room for the start's bound and every wait after it.
  }, 600_000);
});
