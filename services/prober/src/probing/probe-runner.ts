import type { ProbeResult } from '@cdn-sched/proto';
import type { HostPoolOptions } from './host-pool.js';
import { httpProbe } from './http-probe.js';
import { createPoolRegistry } from './pool-registry.js';
import type { EffectiveProbe } from './probe-target.js';
import { tcpProbe } from './tcp-probe.js';

/** One run of a probe. */
export interface ProbeRun {
  nodeId: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Wall-clock start, Unix ms. */
  startedAtMs: number;
}

/** A target's hold on the network resources its probe needs (an HTTP pool). */
export interface ProbeChannel {
  /** Runs the probe once; never rejects. */
  run(run: ProbeRun): Promise<ProbeResult>;
  /** Gives the resources back; the channel must not be run afterwards. */
  detach(): void;
}

/**
 * What the scheduler runs probes with: the seam between scheduling (pure timing, unit-tested with a
 * fake runner) and the network (HTTP pools, TCP connects).
 */
export interface ProbeRunner {
  attach(probe: EffectiveProbe): ProbeChannel;
  /** Open pooled sockets. */
  openSockets(): number;
  /** Open HTTP pools (one per host:port in use). */
  pools(): number;
  close(): Promise<void>;
}

/** Options of {@link createProbeRunner}. */
export interface ProbeRunnerOptions extends HostPoolOptions {
  /** Largest health body read, bytes. Defaults to 4096. */
  maxBodyBytes?: number;
}

/** The network runner: undici keep-alive pools for HTTP probes, plain connects for TCP probes. */
export function createProbeRunner(options: ProbeRunnerOptions = {}): ProbeRunner {
  const registry = createPoolRegistry(options);
  const { maxBodyBytes, lookup } = options;
  return {
    attach(probe) {
      if (probe.type === 'tcp') {
        return {
          run: ({ nodeId, timeoutMs, signal, startedAtMs }) =>
            tcpProbe({ nodeId, address: probe.address, port: probe.port, timeoutMs, signal, startedAtMs, lookup }),
          detach() {},
        };
      }
      const pool = registry.acquire(probe.address, probe.port);
      let attached = true;
      return {
        run: ({ nodeId, timeoutMs, signal, startedAtMs }) =>
          httpProbe(pool, { nodeId, path: probe.path, timeoutMs, signal, startedAtMs, ...(maxBodyBytes ? { maxBodyBytes } : {}) }),
        detach() {
          if (attached) registry.release(pool);
          attached = false;
        },
      };
    },
    openSockets: () => registry.openSockets(),
    pools: () => registry.size(),
    close: () => registry.close(),
  };
}
