import { NodeState, type ProbeResult } from '@cdn-sched/proto';
import { createFakeFleet, waitFor, type FakeFleet } from '@cdn-sched/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProbeTarget } from './probe-target.js';
import { createProbeScheduler, type ProbeScheduler } from './scheduler.js';

const HANDLE_KINDS = new Set(['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'ConnectWrap']);
const handles = (): number => process.getActiveResourcesInfo().filter((r) => HANDLE_KINDS.has(r)).length;

/** Real probes of a fake fleet on loopback, through the default undici runner. */
describe('probe scheduler on the network', () => {
  let fleet: FakeFleet | undefined;
  let scheduler: ProbeScheduler | undefined;

  afterEach(async () => {
    await scheduler?.close();
    await fleet?.close();
    scheduler = fleet = undefined;
  });

  const targetsOf = (f: FakeFleet, state = NodeState.ACTIVE): ProbeTarget[] =>
    f.nodes.map((n) => ({ nodeId: n.id, address: n.address, port: n.port, probe: { path: n.path }, state }));

  it('probes every node over one keep-alive connection each, and releases all on close', async () => {
    fleet = await createFakeFleet({ count: 20, load: 0.3 });
    const baseline = handles();
    const results: ProbeResult[] = [];
    scheduler = createProbeScheduler({
      // A timeout far above a loopback probe, so a loaded machine never times one out (a timed-out
      // probe would cost its connection and a second one would be opened).
      defaults: { intervalMs: 100, timeoutMs: 5000 },
      firstProbeSpreadMs: 50,
      onResult: (r) => results.push(r),
    });
    scheduler.setTargets(targetsOf(fleet));
    const f = fleet;
    await waitFor(() => f.nodes.every((n) => f.requests(n.id) >= 8), { message: 'eight probes of every node' });
    for (const node of fleet.nodes) expect(fleet.connections(node.id)).toBe(1);
    expect(results.every((r) => r.ok && r.load === 0.3)).toBe(true);
    expect(results.filter((r) => r.connectMs > 0)).toHaveLength(20);
    expect(scheduler.stats()).toMatchObject({ pools: 20, openSockets: 20, targets: 20 });

    await scheduler.close();
    await waitFor(() => fleet!.totals().openConnections === 0, { message: 'fleet connections closed' });
    // At most the baseline: a timer of the test runner counted then may have ended since.
    await waitFor(() => handles() <= baseline, { message: `handles back to ${baseline}` });
    expect(process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap')).toHaveLength(0);
  });

  it('reports each failure mode with its class through the loop', async () => {
    fleet = await createFakeFleet({ count: 6 });
    await Promise.all([
      fleet.setHealth('edge-1', 'http500'),
      fleet.setHealth('edge-2', 'refused'),
      fleet.setHealth('edge-3', 'reset'),
      fleet.setHealth('edge-4', 'timeout'),
      fleet.setHealth('edge-5', 'badBody'),
    ]);
    // 2 s: the silent edge times out, and no answering edge is slower than that on a loaded machine.
    scheduler = createProbeScheduler({ defaults: { intervalMs: 100, timeoutMs: 2000 }, firstProbeSpreadMs: 20, onResult: () => {} });
    scheduler.setTargets(targetsOf(fleet));
    const s = scheduler;
    await waitFor(() => s.targets().every((t) => t.lastResult !== ''), { message: 'a result for every node' });
    const last = Object.fromEntries(s.targets().map((t) => [t.nodeId, t.lastResult]));
    expect(last).toEqual({
      'edge-0': 'up',
      'edge-1': 'http_status',
      'edge-2': 'refused',
      'edge-3': 'reset',
      'edge-4': 'timeout',
      'edge-5': 'bad_body',
    });
  });

  it('on removal stops probing, aborts the probe in flight and closes the connection; drain goes on', async () => {
    fleet = await createFakeFleet({ count: 4 });
    await fleet.setHealth('edge-3', 'timeout');
    scheduler = createProbeScheduler({ defaults: { intervalMs: 100, timeoutMs: 10_000 }, firstProbeSpreadMs: 20, onResult: () => {} });
    const targets = targetsOf(fleet);
    scheduler.setTargets(targets);
    const f = fleet;
    await waitFor(() => f.nodes.every((n) => f.requests(n.id) >= 2 || n.id === 'edge-3'), { message: 'first probes' });
    expect(f.totals().openConnections).toBe(4);
    expect(scheduler.stats().inFlight).toBeGreaterThanOrEqual(1); // edge-3 hangs

    scheduler.setTargets([
      { ...targets[0]!, state: NodeState.DRAIN },
      { ...targets[1]!, state: NodeState.MAINTENANCE },
      targets[2]!,
    ]);
    // edge-1 (maintenance) and edge-3 (removed, probe in flight) lose their connections at once.
    await waitFor(() => f.totals().openConnections === 2, { timeoutMs: 10_000, message: 'two connections closed' });
    // The hung probe of edge-3 (10 s timeout) was aborted with its connection (counted above); what
    // may be in flight now is at most one probe of each remaining node (a loaded machine is slow).
    expect(scheduler.stats()).toMatchObject({ targets: 2, pools: 2 });
    expect(scheduler.stats().inFlight).toBeLessThanOrEqual(2);
    const frozen = { one: f.requests('edge-1'), three: f.requests('edge-3'), zero: f.requests('edge-0') };
    // While the drained node is probed three more times, the other two are not probed at all
    // (counted in probes, not in wall time, so a loaded machine changes nothing).
    await waitFor(() => f.requests('edge-0') - frozen.zero >= 3, { timeoutMs: 10_000, message: 'three more probes of the drained node' });
    expect(f.requests('edge-1')).toBe(frozen.one);
    expect(f.requests('edge-3')).toBe(frozen.three);
  });

  it('keeps one pool per host:port for nodes that share it, closed with its last user', async () => {
    fleet = await createFakeFleet({ count: 30, mode: 'virtual', listeners: 1 });
    scheduler = createProbeScheduler({
      defaults: { intervalMs: 100, timeoutMs: 5000 },
      firstProbeSpreadMs: 50,
      pool: { connections: 2 },
      onResult: () => {},
    });
    const targets = targetsOf(fleet);
    scheduler.setTargets(targets);
    const f = fleet;
    await waitFor(() => f.nodes.every((n) => f.requests(n.id) >= 3), { message: 'three probes each' });
    expect(scheduler.stats().pools).toBe(1);
    expect(f.totals().openConnections).toBeLessThanOrEqual(2);
    scheduler.setTargets(targets.slice(0, 1));
    expect(scheduler.stats().pools).toBe(1);
    scheduler.setTargets([]);
    expect(scheduler.stats().pools).toBe(0);
    await waitFor(() => f.totals().openConnections === 0, { timeoutMs: 10_000, message: 'connections closed' });
  });
});
