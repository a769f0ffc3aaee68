/**
 * A fake edge fleet in its own process, for the prober benchmark: the fleet's CPU must not be
 * counted as the prober's. Started with `fork(url, [JSON FakeFleetOptions])`; it sends
 * `{ type: 'ready', nodes }`, answers `{ type: 'totals' }` with the fleet's counters and its own CPU
 * time, and closes the fleet and exits on `{ type: 'close' }` or when the parent goes away.
 */
import { createFakeFleet, type FakeFleetOptions } from '@cdn-sched/testing';

/** Messages from the fleet process. */
export type FleetMessage =
  | { type: 'ready'; nodes: { id: string; address: string; port: number; path: string }[] }
  | { type: 'totals'; requests: number; connections: number; openConnections: number; cpuMs: number };

/** Messages to the fleet process. */
export type FleetCommand = { type: 'totals' } | { type: 'close' };

const options = JSON.parse(process.argv[2] ?? '{}') as FakeFleetOptions;
const fleet = await createFakeFleet(options);
const send = (message: FleetMessage): void => void process.send?.(message);

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await fleet.close();
  if (process.connected) process.disconnect();
};

process.on('message', (command: FleetCommand) => {
  if (command.type === 'totals') {
    const cpu = process.cpuUsage();
    send({ type: 'totals', ...fleet.totals(), cpuMs: (cpu.user + cpu.system) / 1000 });
  } else if (command.type === 'close') {
    void shutdown();
  }
});
process.on('disconnect', () => void shutdown());
send({ type: 'ready', nodes: fleet.nodes.map((n) => ({ ...n })) });
