import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeNode } from './fake-fleet.js';
import { startFleetProcess, type FleetProcess } from './fleet-process.js';
import { isProcessAlive } from './kill-quietly.js';

/**
 * The status a separate process gets from `node` while this process's event loop is blocked:
 * `spawnSync` holds this thread until the child is done, so an edge served from this process could
 * not answer and the child would give up at its 5 s deadline with status 0.
 */
function statusWhileBlocked(node: FakeNode): number {
  const url = `http://${node.address}:${node.port}${node.path}`;
  const script = `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(5000) }).then((r) => process.stdout.write(String(r.status)), () => process.stdout.write('0'))`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  return Number(child.stdout || '0');
}

describe('startFleetProcess', () => {
  let fleet: FleetProcess | undefined;

  afterEach(async () => {
    await fleet?.close();
    fleet = undefined;
  });

  it('answers health checks while the process that started it is blocked, as set', async () => {
    fleet = await startFleetProcess({ count: 3, hosts: ['127.0.0.1', '127.0.0.1', '127.0.0.1'] });
    expect(fleet.nodes.map((n) => n.id)).toEqual(['edge-0', 'edge-1', 'edge-2']);
    expect(new Set(fleet.nodes.map((n) => n.port)).size).toBe(3);

    expect(statusWhileBlocked(fleet.node('edge-1'))).toBe(200);
    await fleet.setHealth('edge-1', 'http500');
    expect(statusWhileBlocked(fleet.node('edge-1'))).toBe(500);
    expect(statusWhileBlocked(fleet.node('edge-0'))).toBe(200);
    await expect(fleet.setHealth('edge-9', 'up')).rejects.toThrow(/no node edge-9/);
  });

  it('ends its process on close', async () => {
    fleet = await startFleetProcess({ count: 1 });
    const { pid } = fleet;
    expect(isProcessAlive(pid)).toBe(true);
    await fleet.close();
    expect(isProcessAlive(pid)).toBe(false);
    await expect(fleet.setHealth('edge-0', 'up')).rejects.toThrow(/gone/);
  });
});
