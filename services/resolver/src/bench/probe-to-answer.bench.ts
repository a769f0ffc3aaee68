/**
 * Benchmark: the probe result that decides an edge is DOWN → the first ResolveStream answer
 * without that edge (issue 14; target p99 ≤ 100 ms end to end).
 *
 * Everything is real and a process of its own: etcd, the config-watcher, one prober, the
 * weight-calculator and the resolver (the built services, default settings), and a fake edge
 * fleet (libs/local-processes `startFleetProcess`: four edges on their own listeners, probed over
 * HTTP every PROBE_INTERVAL_MS). A domain answers all four edges (weighted, four answers), so an
 * answer without an edge means the resolver no longer answers it. Each trial makes one edge fail
 * (HTTP 500 or connection refused, alternately), at a random phase of the probe schedule, and
 * polls the resolver with a one-query ResolveStream batch every POLL_INTERVAL_MS until an answer
 * lacks it; the edge is then put back and the next trial takes the next edge.
 *
 * Where the clock starts: the moment the prober received the deciding result, i.e. its third
 * failure (the weight-calculator's default fall threshold: DOWN after 3 failures among the last 5
 * results, and the window is cleared when a node comes back UP, so an edge that was answered has
 * no failure left in it), taken from the result itself: `started_at_ms + total_ms`, the prober's
 * wall clock at probe start plus the probe's own duration (±0.5 ms: `started_at_ms` is whole
 * milliseconds). The results are seen by listing this benchmark as a second weight-calculator
 * replica (`WEIGHT_CALCULATORS`): a prober sends every result to every replica, so the real
 * weight-calculator's path is not touched. One prober (the quorum is then that prober), so the
 * deciding result is its third failure; with two, which of two probers' results reached the
 * weight-calculator last cannot be seen from outside. The clock stops when the first answer
 * without the edge arrives here (wall clock, `performance.timeOrigin + performance.now()`); the
 * polling interval bounds how late that is seen.
 *
 * Also reported: where the time goes, split at the moment the weight-calculator computed the
 * weight 0 (`NodeWeight.updated_at_ms`, its wall clock, read from the weight stream by a consumer
 * in this process): prober → weight-calculator (the prober's batching, the stream, the wait for
 * the weight-calculator to evaluate the node) and weight-calculator → answer (the weight stream,
 * the resolver's table update, the next poll); and edge failing → answer without it (F × interval
 * plus the pipeline, against the architecture target ≤ F × interval + 500 ms).
 *
 * Run: `npm run bench -- probe-to-answer` (about 80 s). Environment: BENCH_TRIALS (50).
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createEtcdClient } from '@cdn-sched/etcd';
import { NodeState, ProbeSpecSchema, ProbeType, ResolveStreamRequestSchema, ResolveStreamResponseSchema, serviceDefinitions, Strategy, Tier, type ProbeResult } from '@cdn-sched/proto';
import { createWeightsConsumer } from '@cdn-sched/stream';
import { startEtcd, startFleetProcess, startGrpcServer, waitFor } from '@cdn-sched/testing';
import * as grpc from '@grpc/grpc-js';
import { ServerError, Status } from 'nice-grpc';
import { loadavg } from 'node:os';
import { putFleetDocuments } from './bench-documents.js';
import { startControlPlane, startListening, type Cleanups } from './bench-processes.js';
import { rawMethods } from './bench-protocol.js';
import { makeDomain, makeNode } from '../decision/fixtures.js';

const TRIALS = Number(process.env['BENCH_TRIALS'] ?? 50);
const BENCH = 'resolver probe-to-answer';
const EDGES = 4;
const PROBE_INTERVAL_MS = 200;
const PROBE_TIMEOUT_MS = 150;
/** The weight-calculator's default fall threshold (README "Health and weights"). */
const FALL = 3;
const POLL_INTERVAL_MS = 1;
const DOMAIN = 'music.bench.example';
/** A client address the shipped IP data places in CN-GD on China Telecom, the edges' location. */
const CLIENT_IP = '1.0.8.1';
const TRIAL_TIMEOUT_MS = 10_000;

const round3 = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000);
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: round3(value), unit, ...extra }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const wallNow = (): number => performance.timeOrigin + performance.now();
/** Nearest-rank quantile. */
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
};

/** Probe results of the prober, as a weight-calculator replica receives them. */
interface SeenResult {
  nodeId: string;
  ok: boolean;
  /** When the prober had the result: start (its wall clock) plus the probe's duration. */
  receivedAtMs: number;
  startedAtMs: number;
}

/** A stand-in weight-calculator replica that records every probe result and acknowledges it. */
async function startResultObserver(into: SeenResult[]): Promise<{ address: string; close(): Promise<void> }> {
  const record = (r: ProbeResult): void => {
    const startedAtMs = Number(r.startedAtMs);
    into.push({ nodeId: r.nodeId, ok: r.ok, startedAtMs, receivedAtMs: startedAtMs + r.totalMs });
  };
  const server = await startGrpcServer((s) =>
    s.add(serviceDefinitions.weightCalculator, {
      async *reportProbes(requests) {
        for await (const batch of requests) {
          for (const r of batch.results) record(r);
          yield { seq: batch.seq, accepted: batch.results.length, rejected: 0, errors: [] };
        }
      },
      // eslint-disable-next-line require-yield
      async *watchWeights() {
        throw new ServerError(Status.UNIMPLEMENTED, 'a probe-result observer serves no weights');
      },
      async status() {
        throw new ServerError(Status.UNIMPLEMENTED, 'a probe-result observer has no status');
      },
    }),
  );
  return { address: server.address, close: () => server.close() };
}

/** Answers of a one-query batch every POLL_INTERVAL_MS: arrival time and the edges answered. */
function startPoller(target: string): { latest(): { atMs: number; nodes: readonly string[] } | undefined; firstWithout(nodeId: string, afterMs: number): Promise<number>; close(): void } {
  const client = new grpc.Client(target, grpc.credentials.createInsecure());
  const call = client.makeBidiStreamRequest(rawMethods.resolveStream.path, (b: Buffer) => b, (b: Buffer) => b);
  const request = Buffer.from(toBinary(ResolveStreamRequestSchema, create(ResolveStreamRequestSchema, { queries: [{ queryId: 1n, clientIp: CLIENT_IP, domain: DOMAIN }] })));
  let latest: { atMs: number; nodes: string[] } | undefined;
  const waiters = new Set<{ nodeId: string; afterMs: number; resolve(atMs: number): void }>();
  call.on('data', (reply: Buffer) => {
    const atMs = wallNow();
    const d = fromBinary(ResolveStreamResponseSchema, reply).decisions[0];
    const nodes = d?.result.case === 'response' ? d.result.value.answers.map((a) => a.nodeId) : [];
    latest = { atMs, nodes };
    for (const w of waiters) {
      if (atMs < w.afterMs || nodes.includes(w.nodeId)) continue;
      waiters.delete(w);
      w.resolve(atMs);
    }
  });
  call.on('error', () => undefined);
  const timer = setInterval(() => call.write(request), POLL_INTERVAL_MS);
  return {
    latest: () => latest,
    firstWithout: (nodeId, afterMs) =>
      new Promise((resolve, reject) => {
        const w = { nodeId, afterMs, resolve };
        waiters.add(w);
        setTimeout(() => {
          if (!waiters.delete(w)) return;
          reject(new Error(`${nodeId} still answered ${TRIAL_TIMEOUT_MS} ms after it started failing`));
        }, TRIAL_TIMEOUT_MS);
      }),
    close() {
      clearInterval(timer);
      call.end();
      client.close();
    },
  };
}

/**
 * The result that made `nodeId` DOWN: its FALL-th failure among those the prober had after
 * `sinceMs` (the edge was answered before, so nothing older is left in the failure window).
 */
function decidingResult(results: readonly SeenResult[], nodeId: string, sinceMs: number): SeenResult | undefined {
  const failures = results.filter((r) => r.nodeId === nodeId && !r.ok && r.receivedAtMs >= sinceMs).sort((a, b) => a.startedAtMs - b.startedAtMs);
  return failures[FALL - 1];
}

const etcd = await startEtcd();
const etcdClient = createEtcdClient({ endpoints: [etcd.endpoint] });
const cleanups: Cleanups = [() => etcd.stop(), () => etcdClient.close()];
try {
  const fleet = await startFleetProcess({ count: EDGES, mode: 'listeners' });
  cleanups.unshift(() => fleet.close());
  const nodes = fleet.nodes.map((n) =>
    makeNode(n.id, {
      address: n.address,
      port: n.port,
      capacityRps: 1000,
      pools: ['music'],
      state: NodeState.ACTIVE,
      probe: create(ProbeSpecSchema, { type: ProbeType.HTTP, path: n.path, intervalMs: PROBE_INTERVAL_MS, timeoutMs: PROBE_TIMEOUT_MS }),
    }),
  );
  const domain = makeDomain(DOMAIN, { pool: 'music', answers: EDGES, ttlS: 60, strategy: Strategy.WEIGHTED, fallback: [Tier.ISP_REGION, Tier.ANY] });
  await putFleetDocuments(etcdClient, { nodes, domains: [domain] });

  const results: SeenResult[] = [];
  const observer = await startResultObserver(results);
  cleanups.unshift(() => observer.close());
  const { configTarget, weightTarget } = await startControlPlane(etcd.endpoint, cleanups);
  await startListening(
    { service: 'prober', env: { ETCD_ENDPOINTS: etcd.endpoint, CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: `${weightTarget},${observer.address}`, INSTANCE_ID: 'bench-prober' } },
    cleanups,
  );
  const { target: resolverTarget } = await startListening({ service: 'resolver', env: { CONFIG_WATCHER: configTarget, WEIGHT_CALCULATORS: weightTarget } }, cleanups);
  const poller = startPoller(resolverTarget);
  cleanups.unshift(() => poller.close());
  const answered = (id: string): boolean => poller.latest()?.nodes.includes(id) ?? false;
  await waitFor(() => fleet.nodes.every((n) => answered(n.id)), { timeoutMs: 30_000, message: 'every edge answered' });

  // When the weight-calculator computed each weight 0 it published, per node, in publication order.
  const zeroes = new Map<string, number[]>();
  const weights = createWeightsConsumer({
    target: weightTarget,
    consumerId: 'probe-to-answer-bench',
    onApplied(update) {
      for (const c of update.changes) {
        if (c.value?.kind !== 'weight' || c.value.weight.weight !== 0) continue;
        const list = zeroes.get(c.value.weight.nodeId) ?? [];
        list.push(Number(c.value.weight.updatedAtMs));
        zeroes.set(c.value.weight.nodeId, list);
      }
    },
  });
  cleanups.unshift(() => weights.close());
  const zeroAfter = (id: string, sinceMs: number): number | undefined => zeroes.get(id)?.find((at) => at >= sinceMs);

  const loadAtStart = loadavg()[0]!;
  const toWeightCalculator: number[] = [];
  const fromWeightCalculator: number[] = [];
  const decidingToAnswer: number[] = [];
  const failToAnswer: number[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    const id = fleet.nodes[trial % EDGES]!.id;
    await waitFor(() => answered(id), { timeoutMs: TRIAL_TIMEOUT_MS, message: `${id} answered again` });
    // A random phase against the probe schedule.
    await sleep(Math.random() * PROBE_INTERVAL_MS);
    const failedAtMs = wallNow();
    await fleet.setHealth(id, trial % 2 === 0 ? 'http500' : 'refused');
    const goneAtMs = await poller.firstWithout(id, failedAtMs);
    const deciding = await waitFor(() => decidingResult(results, id, failedAtMs), { timeoutMs: 5000, message: `the deciding result of ${id}` });
    const zeroAtMs = await waitFor(() => zeroAfter(id, Math.floor(failedAtMs)), { timeoutMs: 5000, message: `the weight 0 of ${id} on the stream` });
    await fleet.setHealth(id, 'up');
    if (goneAtMs < deciding.receivedAtMs) throw new Error(`${id} left the answers before its deciding result (${deciding.receivedAtMs - goneAtMs} ms): the clock is wrong`);
    decidingToAnswer.push(goneAtMs - deciding.receivedAtMs);
    toWeightCalculator.push(zeroAtMs - deciding.receivedAtMs);
    fromWeightCalculator.push(goneAtMs - zeroAtMs);
    failToAnswer.push(goneAtMs - failedAtMs);
  }
  const note = { trials: TRIALS, probe_interval_ms: PROBE_INTERVAL_MS, poll_ms: POLL_INTERVAL_MS, load_start: round3(loadAtStart), load_end: round3(loadavg()[0]!) };
  emit('deciding_result_to_answer_p50', quantile(decidingToAnswer, 0.5), 'ms', note);
  emit('deciding_result_to_answer_p99', quantile(decidingToAnswer, 0.99), 'ms', { target: 'p99 <= 100 ms' });
  emit('deciding_result_to_answer_max', Math.max(...decidingToAnswer), 'ms');
  emit('deciding_result_to_weight0_computed_p50', quantile(toWeightCalculator, 0.5), 'ms', { p99: round3(quantile(toWeightCalculator, 0.99)), max: round3(Math.max(...toWeightCalculator)) });
  emit('weight0_computed_to_answer_p50', quantile(fromWeightCalculator, 0.5), 'ms', { p99: round3(quantile(fromWeightCalculator, 0.99)), max: round3(Math.max(...fromWeightCalculator)) });
  emit('edge_failing_to_answer_p50', quantile(failToAnswer, 0.5), 'ms', { baseline: FALL * PROBE_INTERVAL_MS });
  emit('edge_failing_to_answer_p99', quantile(failToAnswer, 0.99), 'ms', { baseline: FALL * PROBE_INTERVAL_MS, target: `<= ${FALL * PROBE_INTERVAL_MS + 500} ms` });
} finally {
  for (const c of cleanups) await c();
}
