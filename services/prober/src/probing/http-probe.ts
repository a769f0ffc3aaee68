import { ProbeErrorClass, type ProbeResult } from '@cdn-sched/proto';
import { classifyError, describeError } from './classify.js';
import { LOAD_HEADER, parseEdgeLoad } from './edge-load.js';
import type { HostPool } from './host-pool.js';
import { probeFailure, probeSuccess, type ProbeTimings } from './probe-result.js';

/** One HTTP health probe. */
export interface HttpProbeRequest {
  nodeId: string;
  /** Path of the health endpoint (`/health`). */
  path: string;
  timeoutMs: number;
  /** Cancels the probe (its result then has class OTHER and code EPROBEABORTED in its detail). */
  signal?: AbortSignal | undefined;
  /** Wall-clock start, Unix ms, reported as `started_at_ms`. Defaults to `Date.now()`. */
  startedAtMs?: number;
  /** Largest body read, bytes. Defaults to 4096. */
  maxBodyBytes?: number;
}

/**
 * GETs `path` on `pool`'s origin and turns the answer into a ProbeResult: 2xx–3xx is up (a redirect
 * means the edge's HTTP stack answers; the prober does not follow it), anything else `HTTP_STATUS`,
 * a malformed load report `BAD_BODY`, a transport failure its class. Never rejects.
 */
export async function httpProbe(pool: HostPool, request: HttpProbeRequest): Promise<ProbeResult> {
  const startedAtMs = request.startedAtMs ?? Date.now();
  const ex = await pool.exchange({
    path: request.path,
    timeoutMs: request.timeoutMs,
    signal: request.signal,
    maxBodyBytes: request.maxBodyBytes,
  });
  const timings: ProbeTimings = { connectMs: ex.connectMs, ttfbMs: ex.ttfbMs, totalMs: ex.totalMs };
  const { nodeId } = request;
  if (ex.error) {
    return probeFailure(nodeId, startedAtMs, classifyError(ex.error), describeError(ex.error), timings, ex.statusCode);
  }
  if (ex.statusCode < 200 || ex.statusCode >= 400) {
    return probeFailure(nodeId, startedAtMs, ProbeErrorClass.HTTP_STATUS, `HTTP ${ex.statusCode}`, timings, ex.statusCode);
  }
  const load = parseEdgeLoad(ex.headers?.[LOAD_HEADER], ex.headers?.['content-type'], ex.body);
  if (!load.ok) {
    return probeFailure(nodeId, startedAtMs, ProbeErrorClass.BAD_BODY, load.detail, timings, ex.statusCode);
  }
  return probeSuccess(nodeId, startedAtMs, timings, ex.statusCode, load.load);
}
