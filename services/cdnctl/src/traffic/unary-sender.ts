import { failureCode, type RequestQuery, type RequestSender, type SenderOptions } from './request-sender.js';
import type { ResolverClient } from './resolver-connection.js';

/** Sends each query as one `Resolve` call; a failed call fails its query with the call's status. */
export function createUnarySender(client: ResolverClient, options: SenderOptions): RequestSender {
  const { now, stats, requestTimeoutMs, signal } = options;
  return {
    async send(queries: readonly RequestQuery[], firstId: number, clockStartMs: number) {
      const q = queries[0]!;
      stats.requestSent(1);
      // One controller per call: it is aborted by our deadline or by the run's signal.
      const ac = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, requestTimeoutMs);
      const onAbort = (): void => ac.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const res = await client.resolve(
          { queryId: BigInt(firstId), clientIp: q.clientIp, ecsSubnet: q.ecsSubnet, domain: q.domain },
          { signal: ac.signal },
        );
        const latencyUs = (now() - clockStartMs) * 1000;
        stats.decision(latencyUs, res.degraded);
        stats.requestDone(latencyUs);
        return undefined;
      } catch (error) {
        const code = failureCode(error, timedOut, signal);
        stats.requestFailed(code, 1);
        return code;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
    },
    close: () => Promise.resolve(),
  };
}
