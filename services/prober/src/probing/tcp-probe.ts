import { connect, type LookupFunction } from 'node:net';
import type { ProbeResult } from '@cdn-sched/proto';
import { ProbeError, classifyError, describeError } from './classify.js';
import { probeFailure, probeSuccess } from './probe-result.js';
import { setProbeDeadline } from './probe-deadline.js';

/** One TCP connect probe. */
export interface TcpProbeRequest {
  nodeId: string;
  address: string;
  port: number;
  timeoutMs: number;
  /** Cancels the probe (its result then has class OTHER and code EPROBEABORTED in its detail). */
  signal?: AbortSignal | undefined;
  /** Wall-clock start, Unix ms, reported as `started_at_ms`. Defaults to `Date.now()`. */
  startedAtMs?: number;
  /** Host name resolution for non-literal addresses. Defaults to `dns.lookup`. */
  lookup?: LookupFunction | undefined;
}

/**
 * Opens a TCP connection and closes it at once: up when the handshake completes. The close is a
 * reset (SO_LINGER 0, as HAProxy closes its checks) rather than a FIN: the side that sends the FIN
 * first keeps the socket in TIME_WAIT for 60 s, and at 2k probes/s that would be 120k sockets on the
 * prober, exhausting its ephemeral ports. Never rejects.
 */
export function tcpProbe(request: TcpProbeRequest): Promise<ProbeResult> {
  const startedAtMs = request.startedAtMs ?? Date.now();
  const started = performance.now();
  const { nodeId, signal } = request;
  return new Promise<ProbeResult>((resolve) => {
    const socket = connect({ host: request.address, port: request.port, ...(request.lookup ? { lookup: request.lookup } : {}) });
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      deadline.clear();
      signal?.removeEventListener('abort', onAbort);
      const ms = performance.now() - started;
      if (error === null) {
        socket.resetAndDestroy();
        resolve(probeSuccess(nodeId, startedAtMs, { connectMs: ms, ttfbMs: 0, totalMs: ms }));
        return;
      }
      socket.destroy();
      resolve(probeFailure(nodeId, startedAtMs, classifyError(error), describeError(error), { connectMs: 0, ttfbMs: 0, totalMs: ms }));
    };
    const onAbort = (): void => settle(new ProbeError('EPROBEABORTED', 'probe cancelled'));
    const deadline = setProbeDeadline(() => settle(new ProbeError('EPROBETIMEOUT', `no connect within ${request.timeoutMs} ms`)), request.timeoutMs);
    socket.once('connect', () => settle(null));
    // A permanent listener: an error after settling (late RST) must not become an uncaught event.
    socket.on('error', (error) => settle(error));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
