/**
 * The fake fleet's process (fleet-process.ts starts it): `fork(fleet-main.js, [JSON options])`.
 * Sends `ready` with the nodes once every listener is up (or `failed`), answers each request with
 * `done` or `error` under its `seq`, and closes the fleet and exits when the channel closes — when
 * the parent closes it, or when the parent dies.
 */
import { createFakeFleet, type FakeFleet } from './fake-fleet.js';
import type { FleetProcessOptions, FleetReply, FleetRequest } from './fleet-process.js';

const send = (message: FleetReply): void => void process.send?.(message);
const { hosts, ...options } = JSON.parse(process.argv[2] ?? '{}') as FleetProcessOptions;

let fleet: FakeFleet;
try {
  fleet = await createFakeFleet({ ...options, ...(hosts ? { hostOf: (i: number) => hosts[i] ?? options.host ?? '127.0.0.1' } : {}) });
} catch (error) {
  send({ type: 'failed', error: String(error) });
  process.disconnect?.();
  process.exit(1);
}

process.on('message', (request: FleetRequest) => {
  fleet.setHealth(request.id, request.health).then(
    () => send({ seq: request.seq, type: 'done' }),
    (error: unknown) => send({ seq: request.seq, type: 'error', error: String(error) }),
  );
});
process.once('disconnect', () => {
  void fleet.close().then(() => process.exit(0));
});
send({ type: 'ready', nodes: fleet.nodes.map((n) => ({ ...n })) });
