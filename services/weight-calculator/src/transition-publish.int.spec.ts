import { create } from '@bufbuild/protobuf';
import { Health, NodeSchema, NodeState, ProbeErrorClass, ProbeResultSchema, ReportProbesRequestSchema, serviceDefinitions, StatusResponseSchema, UpstreamHealthSchema, type ReportProbesRequest } from '@cdn-sched/proto';
import { createConfigEncoder, createVersionedStore, createWeightsConsumer, nodeEntryKey, serveVersionedStream, type ConfigEntry } from '@cdn-sched/stream';
import { startGrpcServer, waitFor, type TestGrpcServer } from '@cdn-sched/testing';
import { Metadata, type CallContext } from 'nice-grpc';
import { afterEach, describe, expect, it } from 'vitest';
import { createWeightCalculator, weightCalculatorServiceDefinition, type WeightCalculator } from './index.js';

// A weight-calculator whose tick never comes during the test (one hour): whatever it publishes
// after the first, forced tick was published because of the probe results themselves.
const NEVER_MS = 3_600_000;

/** A config-watcher stand-in serving `ids` as node documents from the shared stream library. */
async function startConfig(ids: string[]): Promise<TestGrpcServer> {
  const store = createVersionedStore<ConfigEntry>({ epoch: 'spec-config' });
  const nodes = ids.map((id) => create(NodeSchema, { id, address: '192.0.2.10', port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacityRps: 1000, state: NodeState.ACTIVE, pools: ['music'] }));
  store.commit(1, nodes.map((node) => ({ key: nodeEntryKey(node.id), value: { kind: 'node', node } })));
  const encoder = createConfigEncoder(store.epoch, () => create(UpstreamHealthSchema, { healthy: true }));
  return startGrpcServer((s) =>
    s.add(serviceDefinitions.configWatcher, {
      async *watch(request, context) {
        yield* serveVersionedStream({ store, request: { epoch: request.epoch, version: Number(request.version) }, encoder, signal: context.signal, versionsGlobal: true });
      },
      async status() {
        return create(StatusResponseSchema, { service: 'config-watcher' });
      },
    }),
  );
}

/** Feeds batches to the calculator's ReportProbes handler and returns once each is acknowledged. */
async function report(calc: WeightCalculator, batches: ReportProbesRequest[]): Promise<void> {
  async function* requests(): AsyncGenerator<ReportProbesRequest> {
    yield* batches;
  }
  const context = { metadata: Metadata(), signal: new AbortController().signal } as unknown as CallContext;
  for await (const ack of calc.service.reportProbes(requests(), context)) expect(ack.rejected).toBe(0);
}

let startedAtMs = Date.now() - 10_000;
const result = (nodeId: string, ok: boolean) =>
  create(ProbeResultSchema, { nodeId, ok, errorClass: ok ? ProbeErrorClass.UNSPECIFIED : ProbeErrorClass.HTTP_STATUS, totalMs: 5, statusCode: ok ? 200 : 500, load: -1, startedAtMs: BigInt(++startedAtMs) });
const batch = (seq: number, ...results: ReturnType<typeof result>[]) => create(ReportProbesRequestSchema, { proberId: 'p1', seq: BigInt(seq), results });

describe('weight-calculator: health transitions are published without waiting for the tick', () => {
  const closers: (() => Promise<unknown> | void)[] = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('publishes weight 0 right after the batch holding the deciding failure, and the first UP of a cold node', async () => {
    const config = await startConfig(['n1', 'n2']);
    closers.push(() => config.close());
    const calc = createWeightCalculator({ instanceId: 'spec', configTarget: config.address, tickIntervalMs: NEVER_MS });
    closers.push(() => calc.close());
    await calc.config.ready();
    calc.tick();
    const server = await startGrpcServer((s) => s.add(weightCalculatorServiceDefinition, calc.service));
    closers.push(() => server.close());
    const consumer = createWeightsConsumer({ target: server.address, consumerId: 'spec' });
    closers.push(() => consumer.close());
    const weight = (id: string) => {
      const e = consumer.entries.get(`weight/${id}`);
      return e?.kind === 'weight' ? e.weight : undefined;
    };
    await waitFor(() => weight('n1')?.health === Health.UNKNOWN, { timeoutMs: 5000, message: 'cold-start weights' });

    await report(calc, [batch(1, result('n1', true), result('n2', true))]);
    await waitFor(() => weight('n1')?.health === Health.UP && weight('n2')?.health === Health.UP, { timeoutMs: 2000, message: 'the first UP published without a tick' });

    // Two failures change no health and publish nothing; the third takes n1 DOWN at once.
    const before = calc.version;
    await report(calc, [batch(2, result('n1', false)), batch(3, result('n1', false))]);
    await new Promise((r) => setImmediate(r));
    expect(calc.version).toBe(before);
    await report(calc, [batch(4, result('n1', false))]);
    await waitFor(() => weight('n1')?.health === Health.DOWN, { timeoutMs: 2000, message: 'the DOWN published without a tick' });
    expect(weight('n1')?.weight).toBe(0);
    expect(weight('n2')?.health).toBe(Health.UP);
    expect(calc.stats.ticks).toBe(1);
  });
});
