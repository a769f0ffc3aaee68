import { execFileSync } from 'node:child_process';
import { NodeState } from '@cdn-sched/proto';
import { createFakeFleet, waitFor } from '@cdn-sched/testing';
import { describe, expect, it } from 'vitest';
import { createProbeScheduler } from './scheduler.js';

/** Sockets in TIME_WAIT with `port` at either end (prober and fleet share the host). */
function timeWaitOn(port: number): number {
  const out = execFileSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

/**
 * Probes 100 nodes behind one listener every 200 ms until 300 probes have been made (about 0.6 s on
 * an idle machine; counted in probes, not wall time, so a loaded machine only takes longer); counts
 * what the network kept.
 */
async function probeFleet(keepAlive: boolean): Promise<{ probes: number; connections: number; timeWait: number }> {
  const fleet = await createFakeFleet({ count: 100, mode: 'virtual', listeners: 1 });
  const port = fleet.nodes[0]!.port;
  const before = timeWaitOn(port);
  let probes = 0;
  const scheduler = createProbeScheduler({
    defaults: { intervalMs: 200, timeoutMs: 5000 },
    firstProbeSpreadMs: 200,
    pool: { keepAlive, connections: 2 },
    onResult: (r) => {
      expect(r.ok).toBe(true);
      probes++;
    },
  });
  try {
    scheduler.setTargets(fleet.nodes.map((n) => ({ nodeId: n.id, address: n.address, port: n.port, probe: { path: n.path }, state: NodeState.ACTIVE })));
    await waitFor(() => probes >= 300, { timeoutMs: 30_000, message: '300 probes' });
    // Counted before teardown, which closes the kept-alive sockets (a few TIME_WAITs of its own).
    return { probes, connections: fleet.totals().connections, timeWait: timeWaitOn(port) - before };
  } finally {
    await scheduler.close();
    await fleet.close();
  }
}

describe('keep-alive probing (integration: real sockets, ss)', () => {
  it('leaves no TIME_WAIT sockets, where a connection per probe leaves one per probe', async () => {
    const kept = await probeFleet(true);
    const fresh = await probeFleet(false);
    expect(kept.probes).toBeGreaterThanOrEqual(300);
    expect(fresh.probes).toBeGreaterThanOrEqual(300);
    expect(kept.connections).toBeLessThanOrEqual(2);
    // A few of margin: the kernel may hand out a listener port that still has TIME_WAIT entries of an
    // earlier test, which expire (or not) while we count.
    expect(kept.timeWait, JSON.stringify({ kept, fresh })).toBeLessThanOrEqual(3);
    expect(fresh.connections).toBeGreaterThanOrEqual(fresh.probes);
    expect(fresh.timeWait, JSON.stringify({ kept, fresh })).toBeGreaterThanOrEqual(0.9 * fresh.probes - 3);
  });
});
