import { execFileSync } from 'node:child_process';
import type { LookupFunction } from 'node:net';
import { ProbeErrorClass } from '@cdn-sched/proto';
import { createFakeFleet, type FakeFleet } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpProbe } from './tcp-probe.js';

/** Sockets in TIME_WAIT with `port` at either end. */
function timeWaitOn(port: number): number {
  const out = execFileSync('ss', ['-Htan', 'state', 'time-wait', `( sport = :${port} or dport = :${port} )`], { encoding: 'utf8' });
  return out.split('\n').filter((line) => line.trim() !== '').length;
}

describe('tcpProbe', () => {
  let fleet: FakeFleet;
  beforeAll(async () => {
    fleet = await createFakeFleet({ count: 3 });
  });
  afterAll(async () => {
    await fleet.close();
  });

  it('is up when the handshake completes, with its connect time', async () => {
    const { address, port } = fleet.node('edge-0');
    const result = await tcpProbe({ nodeId: 'edge-0', address, port, timeoutMs: 1000, startedAtMs: 5 });
    expect(result).toMatchObject({ nodeId: 'edge-0', ok: true, errorClass: ProbeErrorClass.UNSPECIFIED, startedAtMs: 5n });
    expect(result.connectMs).toBeGreaterThan(0);
    expect(result.connectMs).toBe(result.totalMs);
  });

  it('is refused on a closed port', async () => {
    await fleet.setHealth('edge-1', 'refused');
    const { address, port } = fleet.node('edge-1');
    const result = await tcpProbe({ nodeId: 'edge-1', address, port, timeoutMs: 1000 });
    expect(result).toMatchObject({ ok: false, errorClass: ProbeErrorClass.REFUSED, connectMs: 0 });
    await fleet.setHealth('edge-1', 'up');
  });

  it('times out on a connect that never completes, and classifies DNS failures', async () => {
    const never: LookupFunction = () => {};
    const slow = await tcpProbe({ nodeId: 'x', address: 'edge.invalid', port: 80, timeoutMs: 100, lookup: never });
    expect(slow).toMatchObject({ ok: false, errorClass: ProbeErrorClass.TIMEOUT });
    expect(slow.totalMs).toBeGreaterThanOrEqual(95);
    const missing = ((_h: string, _o: unknown, cb: (e: Error) => void) =>
      cb(Object.assign(new Error('getaddrinfo ENOTFOUND edge.invalid'), { code: 'ENOTFOUND' }))) as unknown as LookupFunction;
    const dns = await tcpProbe({ nodeId: 'x', address: 'edge.invalid', port: 80, timeoutMs: 1000, lookup: missing });
    expect(dns).toMatchObject({ ok: false, errorClass: ProbeErrorClass.DNS });
  });

  it('ends at once when aborted', async () => {
    const controller = new AbortController();
    const pending = tcpProbe({ nodeId: 'x', address: 'edge.invalid', port: 80, timeoutMs: 5000, signal: controller.signal, lookup: () => {} });
    controller.abort();
    expect((await pending).errorDetail).toMatch(/EPROBEABORTED/);
  });

  it('closes with a reset, so 50 probes leave no TIME_WAIT socket behind', async () => {
    const { address, port } = fleet.node('edge-2');
    const before = timeWaitOn(port);
    for (let i = 0; i < 50; i++) expect((await tcpProbe({ nodeId: 'edge-2', address, port, timeoutMs: 1000 })).ok).toBe(true);
    expect(fleet.connections('edge-2')).toBe(50);
    expect(timeWaitOn(port) - before).toBe(0);
  });
});
