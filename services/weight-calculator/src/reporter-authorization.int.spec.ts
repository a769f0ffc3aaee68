import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import { NodeSchema, NodeState, ProbeErrorClass, ProbeResultSchema, ReportProbesRequestSchema, serviceDefinitions, type ProbeResult } from '@cdn-sched/proto';
import { startServiceServer, type ServiceServer } from '@cdn-sched/service-kit';
import { createConfigEncoder, createVersionedStore, createWeightsConsumer, nodeEntryKey, serveVersionedStream, type ConfigEntry } from '@cdn-sched/stream';
import { startEtcd, startGrpcServer, waitFor, type EtcdProcess, type TestGrpcServer } from '@cdn-sched/testing';
import { createThrowawayPki, createTransport, type ThrowawayPki, type Transport } from '@cdn-sched/transport';
import { createClient, Status } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeightCalculator, weightCalculatorServiceDefinition, type WeightCalculator } from './index.js';

const PREFIX = '/authz/';
const NODES = ['edge-a', 'edge-b'];

/** A config stream with two nodes, served the way the config-watcher serves it. */
async function startConfigServer(): Promise<TestGrpcServer> {
  const store = createVersionedStore<ConfigEntry>();
  store.reset(5, NODES.map((id, i) => [nodeEntryKey(id), { kind: 'node', node: create(NodeSchema, { id, address: `192.0.2.${i + 1}`, port: 443, country: 'CN', region: 'CN-GD', isp: 'ct', capacityRps: 100, state: NodeState.ACTIVE, pools: ['p'] }) }]));
  const encoder = createConfigEncoder(store.epoch, () => ({ $typeName: 'cdn.sched.v1.UpstreamHealth', healthy: true, reason: '', stalenessMs: 0n, watchLatencyP50Ms: 1, watchLatencyP99Ms: 2 }));
  return startGrpcServer((s) =>
    s.add(serviceDefinitions.configWatcher, {
      async *watch(request, context) {
        yield* serveVersionedStream({ store, request: { epoch: request.epoch, version: Number(request.version) }, encoder, signal: context.signal, versionsGlobal: true, progressIntervalMs: 200 });
      },
      async status() {
        return {};
      },
    }),
  );
}

function failedResult(nodeId: string, startedAtMs: number): ProbeResult {
  return create(ProbeResultSchema, { nodeId, ok: false, errorClass: ProbeErrorClass.HTTP_STATUS, statusCode: 500, totalMs: 5, load: -1, startedAtMs: BigInt(startedAtMs) });
}

/** Sends `batches` batches of failed results for every node as `proberId`; resolves with the stream's outcome. */
async function report(transport: Transport, address: string, proberId: string, batches = 5): Promise<{ acked: number; code?: number; details?: string }> {
  const channel = transport.channel(address);
  const client = createClient(weightCalculatorServiceDefinition, channel);
  let t = Date.now();
  async function* requests() {
    for (let i = 1; i <= batches; i++) yield create(ReportProbesRequestSchema, { proberId, seq: BigInt(i), results: NODES.map((id) => failedResult(id, ++t)) });
  }
  let acked = 0;
  try {
    for await (const ack of client.reportProbes(requests(), { signal: AbortSignal.timeout(10_000) })) acked += ack.accepted;
    return { acked };
  } catch (error) {
    const e = error as { code?: number; details?: string };
    return { acked, code: e.code, details: e.details };
  } finally {
    channel.close();
  }
}

describe('ReportProbes caller identity (real etcd membership, real mTLS)', () => {
  let dir: string;
  let pki: ThrowawayPki;
  let etcd: EtcdProcess;
  let client: EtcdClient;
  let config: TestGrpcServer;
  let calc: WeightCalculator;
  let server: ServiceServer;
  const refusals: { reason: string; proberId: string }[] = [];
  const transports: Transport[] = [];
  const as = (name: string): Transport => {
    const t = createTransport({ tls: { caFile: pki.caFile, ...pki.issue(name) } });
    transports.push(t);
    return t;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'authz-'));
    pki = createThrowawayPki(dir);
    etcd = await startEtcd();
    client = createEtcdClient({ endpoints: [etcd.endpoint] });
    // prober-1 and prober-2 are members; prober-9 is not.
    await client.put(`${PREFIX}members/prober/prober-1`, '{}');
    await client.put(`${PREFIX}members/prober/prober-2`, '{}');
    config = await startConfigServer();
    calc = createWeightCalculator({
      instanceId: 'wc-authz',
      client,
      prefix: PREFIX,
      configTarget: config.address,
      tickIntervalMs: 50,
      electionTtlS: 2,
      table: { fallThreshold: 2, riseThreshold: 1 },
      onReporterRefused: (reason, proberId) => refusals.push({ reason, proberId }),
    });
    await calc.config.ready(AbortSignal.timeout(10_000));
    server = await startServiceServer({
      port: 0,
      transport: as('weight-calculator'),
      register: (s) => s.add(weightCalculatorServiceDefinition, calc.service),
      reflection: [],
      serviceNames: ['cdn.sched.v1.WeightCalculatorService'],
    });
  });
  afterAll(async () => {
    await server?.close();
    await calc?.close();
    await config?.close();
    client?.close();
    await etcd?.stop();
    for (const t of transports) t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The weight table as a resolver sees it, over mTLS. */
  const weightTable = async (): Promise<Record<string, { weight: number; health: number }>> => {
    const consumer = createWeightsConsumer({ target: server.address, consumerId: 'test', transport: as('resolver') });
    try {
      await consumer.ready(AbortSignal.timeout(5000));
      const out: Record<string, { weight: number; health: number }> = {};
      for (const e of consumer.entries.values()) if (e.kind === 'weight') out[e.weight.nodeId] = { weight: e.weight.weight, health: e.weight.health };
      return out;
    } finally {
      await consumer.close();
    }
  };

  it('refuses a prober that is not a member, and one whose certificate names another prober; no weight moves', async () => {
    await waitFor(() => calc.version > 0, { timeoutMs: 5000, message: 'first weights' });
    const pairsBefore = calc.status().gauges['probe_pairs'];
    const before = calc.stats;
    const tableBefore = await weightTable();
    expect(Object.keys(tableBefore).sort()).toEqual(NODES);

    const stranger = await report(as('prober-9'), server.address, 'prober-9');
    expect(stranger.code).toBe(Status.PERMISSION_DENIED);
    expect(stranger.details).toMatch(/prober "prober-9" is not a current member/);
    expect(stranger.acked).toBe(0);

    // A real member's certificate, reporting under the name of another member.
    const impostor = await report(as('prober-2'), server.address, 'prober-1');
    expect(impostor.code).toBe(Status.PERMISSION_DENIED);
    expect(impostor.details).toMatch(/not the identity of the client certificate \(prober-2/);

    expect(refusals).toEqual([{ reason: 'not_member', proberId: 'prober-9' }, { reason: 'identity_mismatch', proberId: 'prober-1' }]);
    expect(calc.stats.refusedReporters - before.refusedReporters).toBe(2);
    expect(calc.stats.ingested).toBe(before.ingested);
    expect(calc.status().gauges['probe_pairs']).toBe(pairsBefore);
    calc.tick();
    expect(await weightTable()).toEqual(tableBefore);

    // The real prober-1 is heard: its results reach the table.
    const real = await report(as('prober-1'), server.address, 'prober-1');
    expect(real.code).toBeUndefined();
    expect(real.acked).toBe(5 * NODES.length);
    expect(calc.stats.ingested - before.ingested).toBe(5 * NODES.length);
    expect(calc.status().gauges['probe_pairs']).toBe(NODES.length);
  });

  it('a prober that registers after the weight-calculator started is accepted', async () => {
    await client.put(`${PREFIX}members/prober/prober-3`, '{}');
    const late = await report(as('prober-3'), server.address, 'prober-3', 1);
    expect(late.code).toBeUndefined();
    expect(late.acked).toBe(NODES.length);
  });

  it('a prober whose membership ended is refused', async () => {
    await client.delete(`${PREFIX}members/prober/prober-2`);
    // Refused as soon as the delete reaches the weight-calculator's watch (milliseconds here).
    const prober2 = as('prober-2');
    await waitFor(async () => (await report(prober2, server.address, 'prober-2', 1)).code === Status.PERMISSION_DENIED, { timeoutMs: 5000, intervalMs: 100, message: 'prober-2 refused after its membership ended' });
  });
});
