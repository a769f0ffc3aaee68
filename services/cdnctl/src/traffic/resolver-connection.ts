import { serviceDefinitions } from '@cdn-sched/proto';
import { plaintextTransport, type Transport } from '@cdn-sched/transport';
import { createClient, type Channel, type Client } from 'nice-grpc';
import { CliError } from '../cli.js';

const READY = 2;
const TRANSIENT_FAILURE = 3;
const SHUTDOWN = 4;

/** The typed resolver client. */
export type ResolverClient = Client<typeof serviceDefinitions.resolver>;

/** One gRPC channel to a resolver, shared by every worker of a run (one HTTP/2 connection). */
export interface ResolverConnection {
  /** `host:port` as given. */
  readonly target: string;
  readonly client: ResolverClient;
  /**
   * Waits until the channel is connected.
   *
   * @throws CliError naming the address when it is not within `timeoutMs`.
   */
  waitReady(timeoutMs: number): Promise<void>;
  close(): void;
}

/** Opens a channel to the resolver at `target` (it connects lazily, or on {@link ResolverConnection.waitReady}). */
export function createResolverConnection(target: string, transport: Transport = plaintextTransport()): ResolverConnection {
  const channel: Channel = transport.channel(target);
  return {
    target,
    client: createClient(serviceDefinitions.resolver, channel),
    async waitReady(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      const hint = '(is it running? start the mesh with `npm start`, or pass --resolver host:port)';
      // Connectivity states of grpc-js's `connectivityState` enum (gRPC's
      // doc/connectivity-semantics-and-api.md); grpc-js is nice-grpc's, not a dependency of ours.
      let state = channel.getConnectivityState(true);
      while (state !== READY) {
        // The first failed attempt already says it: a refused or unresolvable address does not
        // get better by waiting out the whole timeout.
        if (state === TRANSIENT_FAILURE || state === SHUTDOWN) throw new CliError(`UNAVAILABLE: cannot connect to the resolver at ${target} ${hint}`);
        const from = state;
        const changed = await new Promise<boolean>((resolve) => channel.watchConnectivityState(from, deadline, (error) => resolve(!error)));
        if (!changed) throw new CliError(`UNAVAILABLE: no connection to the resolver at ${target} within ${timeoutMs} ms ${hint}`);
        state = channel.getConnectivityState(false);
      }
    },
    close: () => channel.close(),
  };
}
