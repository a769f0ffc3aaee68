import { create } from '@bufbuild/protobuf';
import { createEtcdClient, type EtcdClient } from '@cdn-sched/etcd';
import {
  Health,
  ProbeErrorClass,
  ProbeResultSchema,
  ReportProbesRequestSchema,
  serviceDefinitions,
  type NodeWeight,
  type ProbeResult,
  type ReportProbesRequest,
  type ReportProbesResponse,
  type StatusResponse,
  type WatchWeightsResponse,
} from '@cdn-sched/proto';
import { createWeightsConsumer, type StreamConsumer, type WeightEntry } from '@cdn-sched/stream';
import {
  createFakeFleet,
  startEtcd,
  startGrpcServer,
  startServiceProcess,
  waitFor,
  type EtcdProcess,
  type FakeFleet,
  type ServiceProcess,
  type TestGrpcServer,
} from '@cdn-sched/testing';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWeightCalculator, weightCalculatorServiceDefinition, type PersistedWeight, type WeightCalculator } from './index.js';

// One fleet, one etcd, one config-watcher process and two prober processes serve every test. The
// probers send each result to all three weight-calculators (the in-process one of the health test
// and the two processes of the failover test), as production probers do with every replica.
const PROBE_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 200;
const FALL = 3;
const RISE = 2;
const CAPACITY = 1000;
const ELECTION_TTL_S = 2;
const SLOW_START_MS = 2500;
const JITTER = 0.1; // the prober's default interval jitter ratio
const NODE_IDS = ['edge-0', 'edge-1', 'edge-2', 'edge-3'];
const PREFIX = '/cdn/';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const nodeDoc = (fleet: FakeFleet, id: string): string => {
  const n = fleet.node(id);
  return JSON.stringify({
    id,
    address: n.address,
    port: n.port,
    country: 'CN',
    region: 'CN-GD',
    isp: 'ct',
    capacity: CAPACITY,
    state: 'active',
    pools: ['music'],
    probe: { type: 'http', path: n.path, intervalMs: PROBE_INTERVAL_MS, timeoutMs: PROBE_TIMEOUT_MS },
  });
};

interface Sample {
  /** Wall time the update was applied by the test's client. */
  at: number;
  version: number;
  weight: number;
  health: Health;
}

/**
 * A WatchWeights client (the resolver's consumer) that keeps every weight it was sent, with its
 * arrival time, and the whole table at each applied version, so a persisted weight stamped with a
 * version can be checked against what the stream said at that version.
 */
function recordWeights(target: string) {
  const samples = new Map<string, Sample[]>();
  let applied: { version: number; changed: Set<string>; table: Map<string, { weight: number; health: Health }> }[] = [];
  const consumer: StreamConsumer<WeightEntry> = createWeightsConsumer({
    target,
    consumerId: 'int-test',
    backoff: { baseMs: 20, maxMs: 200 },
    onApplied(update, entries) {
      const at = Date.now();
      if (update.snapshot) applied = [];
      const changed = new Set<string>();
      for (const c of update.changes) {
        if (!c.key.startsWith('weight/')) continue;
        const id = c.key.slice('weight/'.length);
        changed.add(id);
        if (c.value?.kind !== 'weight') continue;
        const list = samples.get(id) ?? [];
        list.push({ at, version: update.version, weight: c.value.weight.weight, health: c.value.weight.health });
        samples.set(id, list);
      }
      const table = new Map<string, { weight: number; health: Health }>();
      for (const e of entries.values()) if (e.kind === 'weight') table.set(e.weight.nodeId, { weight: e.weight.weight, health: e.weight.health });
      applied.push({ version: update.version, changed, table });
    },
  });
  return {
    consumer,
    samples: (id: string): readonly Sample[] => samples.get(id) ?? [],
    latest(id: string): { weight: number; health: Health } | undefined {
      const e = consumer.entries.get(`weight/${id}`);
      return e?.kind === 'weight' ? { weight: e.weight.weight, health: e.weight.health } : undefined;
    },
    /** The node's weight at `version`; undefined when not seen yet or folded into a merged delta. */
    at(version: number, id: string): { weight: number; health: Health } | undefined {
      let i = applied.length - 1;
      while (i >= 0 && applied[i]!.version > version) i--;
      if (i < 0 || (i === applied.length - 1 && applied[i]!.version !== version)) return undefined;
      if (applied[i]!.version !== version && applied[i + 1]!.changed.has(id)) return undefined;
      return applied[i]!.table.get(id);
    },
    close: () => consumer.close(),
  };
}

/** A raw ReportProbes stream, one batch and its ack at a time. */
function openReportStream(channel: Channel, proberId: string) {
  const client = createClient(serviceDefinitions.weightCalculator, channel);
  const queue: ReportProbesRequest[] = [];
  const abort = new AbortController();
  let wake: (() => void) | undefined;
  let ended = false;
  async function* requests(): AsyncGenerator<ReportProbesRequest> {
    for (;;) {
      while (queue.length > 0) yield queue.shift()!;
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
    }
  }
  const acks = client.reportProbes(requests(), { signal: abort.signal })[Symbol.asyncIterator]();
  let seq = 0n;
  return {
    async send(results: ProbeResult[]): Promise<ReportProbesResponse> {
      queue.push(create(ReportProbesRequestSchema, { proberId, seq: ++seq, results }));
      wake?.();
      const next = await withTimeout(acks.next(), 3000, `ack of batch ${seq}`);
      if (next.done) throw new Error('ReportProbes stream ended by the server');
      return next.value;
    },
    async close(): Promise<void> {
      ended = true;
      wake?.();
      await withTimeout(acks.next(), 3000, 'end of the ReportProbes stream').catch(() => abort.abort());
    },
  };
}

/** Probe results with strictly increasing start times (the table rejects replays). */
function resultFactory() {
  let last = 0;
  return (nodeId: string, fields: { ok?: boolean; totalMs?: number; load?: number; startedAtMs?: bigint } = {}): ProbeResult => {
    last = Math.max(last + 1, Date.now());
    const ok = fields.ok ?? true;
    return create(ProbeResultSchema, {
      nodeId,
      ok,
      errorClass: ok ? ProbeErrorClass.UNSPECIFIED : ProbeErrorClass.HTTP_STATUS,
      statusCode: ok ? 200 : 500,
      connectMs: 0,
      ttfbMs: 4,
      totalMs: 5,
      load: -1,
      startedAtMs: BigInt(last),
      ...fields,
    });
  };
}

async function statusOf(address: string): Promise<StatusResponse> {
  const channel = createChannel(address);
  try {
    return await withTimeout(createClient(serviceDefinitions.weightCalculator, channel).status({}), 3000, `Status of ${address}`);
  } finally {
    channel.close();
  }
}

/** The first message a WatchWeights client gets for what it says it has; the stream is then closed. */
async function firstMessage(channel: Channel, epoch: string, version: number, lean = false): Promise<WatchWeightsResponse> {
  const abort = new AbortController();
  try {
    const stream = createClient(serviceDefinitions.weightCalculator, channel).watchWeights({ consumerId: 'resume-test', epoch, version: BigInt(version), lean }, { signal: abort.signal });
    const next = await withTimeout(stream[Symbol.asyncIterator]().next(), 3000, `first WatchWeights message for (${epoch}, ${version})`);
    if (next.done) throw new Error('WatchWeights ended before its first message');
    return next.value;
  } finally {
    abort.abort();
  }
}

interface WeightCalculatorProcess {
  id: string;
  process: ServiceProcess;
  address: string;
}

describe('weight-calculator (real etcd, config-watcher and prober processes, fake fleet)', () => {
  let etcd: EtcdProcess;
  let etcdClient: EtcdClient;
  let configWatcher: ServiceProcess;
  let configTarget: string;
  let fleet: FakeFleet;
  let calc: WeightCalculator;
  let calcServer: TestGrpcServer;
  let replicas: WeightCalculatorProcess[] = [];
  let probers: ServiceProcess[] = [];

  const startReplica = async (id: string): Promise<WeightCalculatorProcess> => {
    const child = await startServiceProcess({
      service: 'weight-calculator',
      env: {
        ETCD_ENDPOINTS: etcd.endpoint,
        CONFIG_WATCHER: configTarget,
        GRPC_PORT: '0',
        METRICS_PORT: '0',
        INSTANCE_ID: id,
        TICK_INTERVAL_MS: '100',
        ELECTION_TTL_S: String(ELECTION_TTL_S),
        FALL_THRESHOLD: String(FALL),
        RISE_THRESHOLD: String(RISE),
      },
    });
    return { id, process: child, address: String((await child.waitForLog('weight-calculator listening'))['grpc']) };
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
    [configWatcher, fleet] = await Promise.all([
      startServiceProcess({
        service: 'config-watcher',
        env: { ETCD_ENDPOINTS: etcd.endpoint, GRPC_PORT: '0', METRICS_PORT: '0', PROGRESS_INTERVAL_MS: '200' },
      }),
      createFakeFleet({ count: NODE_IDS.length, mode: 'listeners' }),
    ]);
    configTarget = String((await configWatcher.waitForLog('config-watcher listening'))['grpc']);
    for (const id of NODE_IDS) await etcdClient.put(`${PREFIX}nodes/${id}`, nodeDoc(fleet, id));

    // In-process core without etcd (never leader): the health and slow-start test reads its stream.
    calc = createWeightCalculator({
      instanceId: 'wc-inproc',
      configTarget,
      tickIntervalMs: 50,
      progressIntervalMs: 200,
      table: {
        fallThreshold: FALL,
        riseThreshold: RISE,
        freshnessTtlMs: 6 * PROBE_INTERVAL_MS,
        unknownHoldMs: 12 * PROBE_INTERVAL_MS,
        slowStartMs: SLOW_START_MS,
        // One damping step per probe round, as the defaults do for the default 5 s interval.
        stepIntervalMs: PROBE_INTERVAL_MS,
      },
    });
    calcServer = await startGrpcServer((s) => s.add(weightCalculatorServiceDefinition, calc.service));
    replicas = await Promise.all([startReplica('wc-a'), startReplica('wc-b')]);

    const targets = [calcServer.address, ...replicas.map((r) => r.address)].join(',');
    probers = await Promise.all(
      ['p1', 'p2'].map((id) =>
        startServiceProcess({
          service: 'prober',
          env: {
            ETCD_ENDPOINTS: etcd.endpoint,
            CONFIG_WATCHER: configTarget,
            WEIGHT_CALCULATORS: targets,
            GRPC_PORT: '0',
            METRICS_PORT: '0',
            INSTANCE_ID: id,
            MEMBER_TTL_S: '2',
            REPLICATION_FACTOR: '2',
          },
        }),
      ),
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(probers.map((p) => p.stop()));
    await Promise.all(replicas.map((r) => r.process.stop()));
    await calcServer?.close();
    await calc?.close();
    await fleet?.close();
    await configWatcher?.stop();
    etcdClient?.close();
    await etcd?.stop();
  }, 120_000);

  it('takes a failing edge to weight 0 within F × interval, and brings it back after U successes with slow start', async () => {
    const rec = recordWeights(calcServer.address);
    try {
      // Past the cold start and the first slow-start ramp, every node serves its full capacity.
      await waitFor(() => NODE_IDS.every((id) => { const w = rec.latest(id); return w?.health === Health.UP && w.weight >= 0.98 * CAPACITY; }), {
        timeoutMs: SLOW_START_MS + 10_000,
        message: 'every node UP at full weight',
      });
      const before = rec.latest('edge-0')!.weight;

      const failedAt = Date.now();
      await fleet.setHealth('edge-0', 'http500');
      const down = await waitFor(() => rec.samples('edge-0').find((s) => s.at >= failedAt && s.weight === 0), {
        timeoutMs: FALL * PROBE_INTERVAL_MS + 3000,
        message: 'weight 0 for the failing edge',
      });
      const detectMs = down.at - failedAt;
      console.log(`edge failing -> weight 0 on WatchWeights in ${detectMs} ms (F × interval = ${FALL * PROBE_INTERVAL_MS} ms)`);
      expect(down.health).toBe(Health.DOWN);
      // Margin for a loaded machine; the tight figure is `npm run bench -- weight-calculator`.
      expect(detectMs).toBeLessThanOrEqual(FALL * PROBE_INTERVAL_MS + 3000);
      // Hysteresis: F failures were needed, the earliest of which is at the first probe after the
      // failure, so the F-th comes at least F − 1 (jittered) intervals later. One failure is not enough.
      expect(detectMs).toBeGreaterThanOrEqual((FALL - 1) * PROBE_INTERVAL_MS * (1 - JITTER) - 20);
      for (const id of NODE_IDS.slice(1)) {
        expect(rec.samples(id).filter((s) => s.at >= failedAt && (s.weight === 0 || s.health !== Health.UP))).toEqual([]);
      }

      const recoveredAt = Date.now();
      await fleet.setHealth('edge-0', 'up');
      const back = await waitFor(() => rec.samples('edge-0').find((s) => s.at >= recoveredAt && s.weight > 0), {
        timeoutMs: RISE * PROBE_INTERVAL_MS + 3000,
        message: 'the recovered edge serving again',
      });
      console.log(`edge recovered -> weight ${back.weight.toFixed(1)} (was ${before.toFixed(1)}) in ${back.at - recoveredAt} ms (U × interval = ${RISE * PROBE_INTERVAL_MS} ms)`);
      expect(back.health).toBe(Health.UP);
      expect(back.at - recoveredAt).toBeGreaterThanOrEqual((RISE - 1) * PROBE_INTERVAL_MS * (1 - JITTER) - 20);
      // Slow start: back at a small share of what it had, not at once at full weight.
      expect(back.weight).toBeLessThan(0.3 * before);
      await waitFor(() => (rec.latest('edge-0')?.weight ?? 0) >= 0.5 * before, {
        timeoutMs: SLOW_START_MS + 2000,
        message: 'the recovered edge ramping up',
      });
      const ramp = rec.samples('edge-0').filter((s) => s.at >= back.at).map((s) => s.weight);
      expect(ramp.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < ramp.length; i++) expect(ramp[i]).toBeGreaterThanOrEqual(ramp[i - 1]!);
    } finally {
      await fleet.setHealth('edge-0', 'up');
      await rec.close();
    }
  });

  it('fails over to the surviving replica within the election TTL, no weight drops, and the survivor persists its stream', async () => {
    const leaderOf = (): WeightCalculatorProcess | undefined => replicas.find((r) => r.process.logs.some((l) => l['msg'] === 'became leader'));
    const leader = await waitFor(leaderOf, { timeoutMs: 10_000, message: 'a leader among the replicas' });
    const survivor = replicas.find((r) => r !== leader)!;
    expect((await statusOf(leader.address)).gauges['leader']).toBe(1);
    expect((await statusOf(survivor.address)).gauges['leader']).toBe(0);

    const persisted = async (): Promise<Map<string, PersistedWeight>> => {
      const { kvs } = await etcdClient.list(`${PREFIX}weights/`);
      return new Map(kvs.map((kv) => [kv.key.slice(`${PREFIX}weights/`.length), JSON.parse(Buffer.from(kv.value).toString('utf8')) as PersistedWeight]));
    };
    await waitFor(async () => { const docs = await persisted(); return NODE_IDS.every((id) => docs.get(id)?.leader === leader.id); }, {
      timeoutMs: 10_000,
      message: `${leader.id} persisting every node`,
    });

    const rec = recordWeights(survivor.address);
    try {
      await waitFor(() => NODE_IDS.every((id) => (rec.latest(id)?.weight ?? 0) > 0), { timeoutMs: 10_000, message: 'every node serving on the survivor' });
      const watchedFrom = Date.now();

      const killedAt = Date.now();
      await leader.process.kill();
      const became = await survivor.process.waitForLog('became leader', ELECTION_TTL_S * 1000 + 5000);
      const failoverMs = Date.parse(String(became['time'])) - killedAt;
      console.log(`leader SIGKILL -> ${survivor.id} leader in ${failoverMs} ms (election TTL ${ELECTION_TTL_S * 1000} ms)`);
      expect(failoverMs).toBeLessThanOrEqual(ELECTION_TTL_S * 1000 + 3000);
      expect((await statusOf(survivor.address)).gauges['leader']).toBe(1);

      // Every persisted weight now comes from the survivor and equals what its stream said at the
      // version stamped in the document (to the document's rounding of 0.001).
      const rows = await waitFor(
        async () => {
          const docs = await persisted();
          const out = NODE_IDS.map((id) => {
            const doc = docs.get(id);
            const streamed = doc?.leader === survivor.id ? rec.at(doc.version, id) : undefined;
            return doc && streamed ? { id, doc, streamed } : undefined;
          });
          return out.every((r) => r !== undefined) ? out : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, message: `${survivor.id} persisting every node at a version its stream showed` },
      );
      const healthName = { [Health.UP]: 'up', [Health.DOWN]: 'down' } as Record<number, string>;
      for (const { doc, streamed } of rows) {
        expect(Math.abs(doc.weight - streamed.weight)).toBeLessThanOrEqual(0.0005 + 1e-9);
        expect(doc.health).toBe(healthName[streamed.health] ?? 'unknown');
      }

      // The survivor's stream never took a healthy node out, before, during or after the failover.
      await sleep(300);
      const samples = NODE_IDS.flatMap((id) => rec.samples(id).filter((s) => s.at >= watchedFrom));
      expect(samples.filter((s) => s.weight <= 0 || s.health === Health.DOWN)).toEqual([]);
      expect(rec.consumer.state.connected).toBe(true);
      console.log(`survivor stream during failover: ${samples.length} weight updates, lowest weight ${Math.min(...samples.map((s) => s.weight)).toFixed(1)}`);
    } finally {
      await rec.close();
    }
  });

  it('a replica elected before it has the configuration keeps the persisted weights, then takes them over', async () => {
    const prefix = '/cdn-cold/';
    const previous = (id: string): string => JSON.stringify({ nodeId: id, weight: 777, health: 'up', updatedAtMs: 1, version: 42, leader: 'wc-previous' });
    for (const id of NODE_IDS) await etcdClient.put(`${prefix}weights/${id}`, previous(id));
    const created = new Map((await etcdClient.list(`${prefix}weights/`)).kvs.map((kv) => [kv.key, kv.createRevision]));
    // The real config stream, held back until the replica has won its election (a cold start where
    // etcd answers before the config-watcher does).
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const upstream = createChannel(configTarget);
    const configClient = createClient(serviceDefinitions.configWatcher, upstream);
    const heldConfig = await startGrpcServer((s) =>
      s.add(serviceDefinitions.configWatcher, {
        async *watch(request, context) {
          await released;
          yield* configClient.watch(request, { signal: context.signal });
        },
        status: (request, context) => configClient.status(request, { signal: context.signal }),
      }),
    );
    const client = createEtcdClient({ endpoints: [etcd.endpoint] });
    const cold = createWeightCalculator({ instanceId: 'wc-cold', configTarget: heldConfig.address, client, prefix, electionTtlS: ELECTION_TTL_S, tickIntervalMs: 100 });
    const docs = async (): Promise<PersistedWeight[]> =>
      (await etcdClient.list(`${prefix}weights/`)).kvs.map((kv) => JSON.parse(Buffer.from(kv.value).toString('utf8')) as PersistedWeight);
    try {
      await waitFor(() => cold.isLeader, { timeoutMs: 10_000, message: 'wc-cold elected' });
      await sleep(500);
      expect(await docs()).toEqual(NODE_IDS.map((id) => JSON.parse(previous(id)) as PersistedWeight));

      release();
      await waitFor(async () => { const d = await docs(); return d.length === NODE_IDS.length && d.every((w) => w.leader === 'wc-cold'); }, {
        timeoutMs: 10_000,
        intervalMs: 50,
        message: 'wc-cold persisting every node',
      });
      // Updated in place, never deleted and re-created on the way.
      for (const kv of (await etcdClient.list(`${prefix}weights/`)).kvs) expect(kv.createRevision).toBe(created.get(kv.key));
    } finally {
      release();
      await cold.close();
      client.close();
      await heldConfig.close();
      upstream.close();
    }
  });

  it('resumes a WatchWeights client with a delta of exactly what changed; too-old, ahead or foreign clients get a snapshot', async () => {
    // Ticks are driven by the test, so versions and their contents are known exactly.
    const resumable = createWeightCalculator({
      instanceId: 'wc-resume',
      configTarget,
      tickIntervalMs: 3_600_000,
      maxHistoryChanges: 6,
      table: { slowStartMs: 0, maxStepFraction: 1, stepIntervalMs: 1 },
    });
    const server = await startGrpcServer((s) => s.add(weightCalculatorServiceDefinition, resumable.service));
    const channel = createChannel(server.address);
    const reporter = openReportStream(channel, 'synthetic');
    const result = resultFactory();
    // Damping moves at most one capacity per millisecond here; a tick in the same millisecond as the
    // previous one could not move at all.
    const tick = async (): Promise<void> => {
      await sleep(5);
      resumable.tick();
    };
    try {
      await waitFor(() => resumable.status().gauges['nodes'] === NODE_IDS.length, { message: 'nodes from the config-watcher' });
      expect((await reporter.send(NODE_IDS.map((id) => result(id)))).accepted).toBe(NODE_IDS.length);
      await tick();
      const first = await firstMessage(channel, '', 0);
      expect(first.kind.case).toBe('snapshot');
      if (first.kind.case !== 'snapshot') return;
      const { epoch } = first;
      const v1 = Number(first.kind.value.version);
      expect(first.kind.value.weights.map((w) => [w.nodeId, w.weight]).sort()).toEqual(NODE_IDS.map((id) => [id, CAPACITY]));

      // While the client is away: edge-1 goes DOWN (one version), edge-2 reports high load (another).
      await reporter.send([1, 2, 3].map(() => result('edge-1', { ok: false })));
      await tick();
      await reporter.send([result('edge-2', { load: 0.95 })]);
      await tick();
      const v3 = resumable.version;
      expect(v3).toBe(v1 + 2);

      const resumed = await firstMessage(channel, epoch, v1);
      const now = await firstMessage(channel, '', 0);
      expect(resumed.kind.case).toBe('delta');
      expect(now.kind.case).toBe('snapshot');
      if (resumed.kind.case !== 'delta' || now.kind.case !== 'snapshot') return;
      const delta = resumed.kind.value;
      expect([Number(delta.fromVersion), Number(delta.version)]).toEqual([v1, v3]);
      expect(delta.removedNodeIds).toEqual([]);
      const current = new Map(now.kind.value.weights.map((w) => [w.nodeId, w]));
      expect(delta.upserted.map((w) => w.nodeId).sort()).toEqual(['edge-1', 'edge-2']);
      for (const w of delta.upserted) expect(w).toEqual(current.get(w.nodeId));
      expect(current.get('edge-1')).toMatchObject({ weight: 0, health: Health.DOWN });
      expect(current.get('edge-2')!.weight).toBeCloseTo(0.25 * CAPACITY, 6);
      // edge-1 stopped serving: the capacity table changed, and travels with the delta.
      expect(delta.capacities).toEqual(now.kind.value.capacities);
      expect(delta.capacities.find((c) => c.location === '*')).toMatchObject({ healthyCapacityRps: 3 * CAPACITY, totalCapacityRps: 4 * CAPACITY });

      // A lean client (the resolver's kind) gets the same delta and snapshot without the terms.
      const leanResumed = await firstMessage(channel, epoch, v1, true);
      const leanNow = await firstMessage(channel, '', 0, true);
      if (leanResumed.kind.case !== 'delta' || leanNow.kind.case !== 'snapshot') throw new Error(`lean stream: ${leanResumed.kind.case}, ${leanNow.kind.case}`);
      const fields = (w: NodeWeight) => ({ nodeId: w.nodeId, weight: w.weight, health: w.health, updatedAtMs: w.updatedAtMs, terms: w.terms });
      for (const w of [...delta.upserted, ...now.kind.value.weights]) expect(w.terms?.capacityRps).toBe(CAPACITY);
      expect(leanResumed.kind.value.upserted.map(fields)).toEqual(delta.upserted.map((w) => ({ ...fields(w), terms: undefined })));
      expect(leanNow.kind.value.weights.map(fields)).toEqual(now.kind.value.weights.map((w) => ({ ...fields(w), terms: undefined })));
      expect(leanResumed.kind.value.capacities).toEqual(delta.capacities);

      // A client already at the current version is told so (progress), not sent anything again.
      const upToDate = await firstMessage(channel, epoch, v3);
      expect(upToDate.kind.case).toBe('progress');

      // Another server's epoch, or a version this server never reached: a snapshot, with the reason.
      const foreign = await firstMessage(channel, 'wc-other@1', v1);
      expect(foreign.kind.case === 'snapshot' && foreign.kind.value.reason).toMatch(/new server epoch/);
      const ahead = await firstMessage(channel, epoch, v3 + 10);
      expect(ahead.kind.case === 'snapshot' && ahead.kind.value.reason).toMatch(/server is behind the client/);

      // Six more one-change versions push v1 out of the six-change history: too old for a delta.
      for (let i = 0; i < 6; i++) {
        await reporter.send([result('edge-2', { load: i % 2 === 0 ? 0.1 : 0.95 })]);
        await tick();
      }
      expect(resumable.version).toBe(v3 + 6);
      const tooOld = await firstMessage(channel, epoch, v1);
      expect(tooOld.kind.case).toBe('snapshot');
      if (tooOld.kind.case !== 'snapshot') return;
      expect(tooOld.kind.value.reason).toMatch(/no longer in the history/);
      expect(Number(tooOld.kind.value.version)).toBe(v3 + 6);
      expect(tooOld.kind.value.weights).toHaveLength(NODE_IDS.length);
    } finally {
      await reporter.close();
      channel.close();
      await server.close();
      await resumable.close();
    }
  });

  it('rejects bad probe results in the ack with a readable reason and keeps the stream open', async () => {
    const strict = createWeightCalculator({ instanceId: 'wc-strict', configTarget, tickIntervalMs: 100 });
    const server = await startGrpcServer((s) => s.add(weightCalculatorServiceDefinition, strict.service));
    const channel = createChannel(server.address);
    const reporter = openReportStream(channel, 'raw');
    const result = resultFactory();
    try {
      await waitFor(() => strict.status().gauges['nodes'] === NODE_IDS.length, { message: 'nodes from the config-watcher' });
      const ack = await reporter.send([
        result('edge-0', { totalMs: Number.NaN }),
        result('no-such-node'),
        result('edge-1', { startedAtMs: BigInt(Date.now() + 3_600_000) }),
        result('edge-3'),
      ]);
      expect(ack).toMatchObject({ seq: 1n, accepted: 1, rejected: 3 });
      expect(ack.errors).toHaveLength(3);
      expect(ack.errors[0]).toMatch(/^node edge-0: total_ms must be a finite number >= 0, got NaN$/);
      expect(ack.errors[1]).toMatch(/^node no-such-node: unknown node$/);
      expect(ack.errors[2]).toMatch(/^node edge-1: started_at_ms is \d+ ms ahead of the weight-calculator's clock \(limit 60000 ms\); check the prober's clock$/);

      // Same stream: the next batch is taken and acknowledged as usual.
      const next = await reporter.send([result('edge-0'), result('edge-1')]);
      expect(next).toMatchObject({ seq: 2n, accepted: 2, rejected: 0, errors: [] });
      expect(strict.stats).toMatchObject({ ingested: 3, rejected: 3, reporters: 1 });
    } finally {
      await reporter.close();
      channel.close();
      await server.close();
      await strict.close();
    }
  });
});
