import { create } from '@bufbuild/protobuf';
import { BreakerStatusSchema, StatusResponseSchema, StreamStatusSchema, type StatusResponse } from '@cdn-sched/proto';
import { createMetrics } from '@cdn-sched/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { registerStatusMetrics } from './status-metrics.js';

const metrics = createMetrics({ service: 'test', instanceId: 't-1', processMetrics: false });
afterEach(() => metrics.close());

function status(breakerState: string, opens: number, stalenessMs: number, connected: boolean): StatusResponse {
  return create(StatusResponseSchema, {
    breakers: [create(BreakerStatusSchema, { name: 'config', state: breakerState, opens: BigInt(opens) })],
    streams: [create(StreamStatusSchema, { name: 'config-watcher', stalenessMs: BigInt(stalenessMs), connected })],
  });
}

const lines = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`));

describe('registerStatusMetrics', () => {
  it('publishes breaker state and opens, stream staleness and connection, from the status at scrape time', async () => {
    let now = status('closed', 0, 250, true);
    let calls = 0;
    registerStatusMetrics(metrics, async () => {
      calls++;
      return now;
    });
    let text = await metrics.registry.metrics();
    expect(calls, 'one status per scrape').toBe(1);
    expect(lines(text, 'cdn_breaker_open')).toEqual(['cdn_breaker_open{breaker="config",service="test",instance_id="t-1"} 0']);
    expect(lines(text, 'cdn_breaker_opens_total')).toEqual(['cdn_breaker_opens_total{breaker="config",service="test",instance_id="t-1"} 0']);
    expect(lines(text, 'cdn_stream_staleness_seconds')).toEqual(['cdn_stream_staleness_seconds{stream="config-watcher",service="test",instance_id="t-1"} 0.25']);

    now = status('open', 2, 12_000, false);
    await new Promise((r) => setImmediate(r));
    text = await metrics.registry.metrics();
    expect(lines(text, 'cdn_breaker_open')).toEqual(['cdn_breaker_open{breaker="config",service="test",instance_id="t-1"} 1']);
    expect(lines(text, 'cdn_breaker_opens_total')).toEqual(['cdn_breaker_opens_total{breaker="config",service="test",instance_id="t-1"} 2']);
    expect(lines(text, 'cdn_stream_staleness_seconds')).toEqual(['cdn_stream_staleness_seconds{stream="config-watcher",service="test",instance_id="t-1"} 12']);
    expect(lines(text, 'cdn_stream_connected')).toEqual(['cdn_stream_connected{stream="config-watcher",service="test",instance_id="t-1"} 0']);
  });
});
