import type { StatusResponse } from '@cdn-sched/proto';
import type { Metrics } from '@cdn-sched/telemetry';

/**
 * Registers the metrics every service derives from its own `Status` answer, so dashboards and
 * alerts read the same names from every service (what `cdnctl status` prints, as series):
 *
 * - `cdn_breaker_open{breaker}`: 1 while the breaker is open, else 0;
 * - `cdn_breaker_opens_total{breaker}`: times it opened since start;
 * - `cdn_stream_staleness_seconds{stream}`: time since the upstream last confirmed the version of
 *   an upstream from the service's upstream registry ("config-watcher", "weight-calculator", "etcd");
 * - `cdn_stream_connected{stream}`: 1 while that stream is connected.
 *
 * Values are read at scrape time from `status()`, never kept twice.
 */
export function registerStatusMetrics(metrics: Metrics, status: () => StatusResponse | Promise<StatusResponse>): void {
  // One status per scrape: every collect() of the same scrape shares it.
  let pending: Promise<StatusResponse> | undefined;
  const current = (): Promise<StatusResponse> => {
    pending ??= Promise.resolve()
      .then(status)
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  metrics.gauge({
    name: 'cdn_breaker_open',
    help: '1 while a circuit breaker is open',
    labelNames: ['breaker'],
    async collect() {
      this.reset();
      for (const b of (await current()).breakers) this.set({ breaker: b.name }, b.state === 'open' ? 1 : 0);
    },
  });
  const opensSeen = new Map<string, number>();
  metrics.counter({
    name: 'cdn_breaker_opens_total',
    help: 'Times a circuit breaker opened since the service started',
    labelNames: ['breaker'],
    async collect() {
      for (const b of (await current()).breakers) {
        const opens = Number(b.opens);
        const delta = opens - (opensSeen.get(b.name) ?? 0);
        opensSeen.set(b.name, opens);
        // Zero increments still create the series, so "never opened" reads 0 rather than absent.
        this.inc({ breaker: b.name }, delta > 0 ? delta : 0);
      }
    },
  });
  metrics.gauge({
    name: 'cdn_stream_staleness_seconds',
    help: 'Time since the upstream last confirmed the version of a consumed stream, seconds',
    labelNames: ['stream'],
    async collect() {
      this.reset();
      for (const s of (await current()).streams) this.set({ stream: s.name }, Number(s.stalenessMs) / 1000);
    },
  });
  metrics.gauge({
    name: 'cdn_stream_connected',
    help: '1 while a consumed stream is connected to its upstream',
    labelNames: ['stream'],
    async collect() {
      this.reset();
      for (const s of (await current()).streams) this.set({ stream: s.name }, s.connected ? 1 : 0);
    },
  });
}
