/**
 * Synthetic probers for slow-start.bench.ts, in a process of their own (forked with the options as
 * JSON in argv[2]): they stream successful probe results for every node of the fleet to the real
 * weight-calculator over ReportProbes, on the schedule the prober keeps (services/prober: a node
 * newly assigned is probed at once, through at most `maxConcurrency` probes in flight; after that
 * every `intervalMs`, jittered by ±`jitterRatio`; the reporter flushes every `flushIntervalMs`, at
 * most `maxBatch` results a batch). What is synthetic is only the probing itself: 10 k fake edges
 * and two real probers would take most of a 2-core machine away from the resolver being measured.
 *
 * Every node answers: with a fresh weight-calculator holding every node at its cold-start share,
 * the first result of each node turns it UP (the weight-calculator's initial rise is one success)
 * and starts its slow-start ramp, so the whole fleet ramps at once, as after a weight-calculator
 * restart. RTTs stay far below the weight formula's latency knee and no load is reported, so the
 * ramp is the only thing that moves weights.
 *
 * Messages to the parent: `{ type: 'firstRound', atMs }` once every node's first result has been
 * acknowledged; `{ type: 'stats', accepted, rejected }` in answer to `{ type: 'stats' }`.
 */
import { create } from '@bufbuild/protobuf';
import { NodeState, ProbeResultSchema, ReportProbesRequestSchema, serviceDefinitions, type ProbeResult, type ReportProbesRequest } from '@cdn-sched/proto';
import { createChannel, createClient } from 'nice-grpc';
import { createRng, nextUniform } from '../decision/index.js';
import { createBenchFleet } from './bench-workload.js';

/** Options from the parent. */
export interface SyntheticProbersOptions {
  /** weight-calculator address. */
  target: string;
  proberIds: string[];
  /** The benchmark fleet (bench-workload.ts) of this size and seed; its maintenance nodes are not probed. */
  nodes: number;
  /** The prober's defaults: interval 5 s, jitter 0.1, 512 probes in flight, flush 50 ms, 500 a batch. */
  intervalMs: number;
  jitterRatio: number;
  maxConcurrency: number;
  flushIntervalMs: number;
  maxBatch: number;
  /** Round trip of one probe, ms: spreads the first round over ⌈nodes / maxConcurrency⌉ round trips. */
  probeRttMs: number;
  seed: number;
}

/** Messages to the parent. */
export type SyntheticProbersMessage = { type: 'firstRound'; atMs: number } | { type: 'stats'; accepted: number; rejected: number; errors: string[] };

const options = JSON.parse(process.argv[2] ?? '{}') as SyntheticProbersOptions;
const send = (message: SyntheticProbersMessage): void => void process.send?.(message);
const channel = createChannel(options.target);
const client = createClient(serviceDefinitions.weightCalculator, channel);
const stats = { accepted: 0, rejected: 0, errors: [] as string[] };
// What a prober is assigned: every node but those in maintenance (neither probed nor answered).
const nodeIds = createBenchFleet(options.seed, options.nodes)
  .nodes.filter((n) => n.state !== NodeState.MAINTENANCE)
  .map((n) => n.id);
const nodeCount = nodeIds.length;
const rng = createRng(options.seed);
/** Per node, a round trip of its own (a few ms to tens of ms), below the formula's 200 ms knee. */
const rttMs = Float64Array.from(nodeIds, () => options.probeRttMs * (0.5 + nextUniform(rng)));

/** One synthetic prober: its schedule (next due time per node, wall clock ms) and its stream. */
function startProber(proberId: string, startMs: number): Promise<void> {
  const due = new Float64Array(nodeCount);
  // The first round: what `maxConcurrency` probes in flight get through, one round trip at a time.
  const firstRoundMs = Math.ceil(nodeCount / options.maxConcurrency) * options.probeRttMs;
  for (let i = 0; i < nodeCount; i++) due[i] = startMs + (firstRoundMs * i) / nodeCount;
  let seq = 0n;
  let stopped = false;

  const dueResults = (nowMs: number): ProbeResult[] => {
    const results: ProbeResult[] = [];
    for (let i = 0; i < nodeCount && results.length < options.maxBatch; i++) {
      if (due[i]! > nowMs) continue;
      results.push(success(nodeIds[i]!, due[i]!, rttMs[i]!));
      due[i] = due[i]! + options.intervalMs * (1 + options.jitterRatio * (2 * nextUniform(rng) - 1));
    }
    return results;
  };

  async function* batches(): AsyncGenerator<ReportProbesRequest> {
    while (!stopped) {
      const results = dueResults(Date.now());
      if (results.length > 0) yield create(ReportProbesRequestSchema, { proberId, seq: ++seq, results });
      if (results.length < options.maxBatch) await new Promise((r) => setTimeout(r, options.flushIntervalMs));
    }
  }

  return (async () => {
    let acknowledged = 0;
    for await (const ack of client.reportProbes(batches())) {
      stats.accepted += ack.accepted;
      stats.rejected += ack.rejected;
      for (const e of ack.errors) if (stats.errors.length < 10) stats.errors.push(e);
      acknowledged += ack.accepted + ack.rejected;
      if (acknowledged >= nodeCount && !firstRoundDone.has(proberId)) {
        firstRoundDone.add(proberId);
        if (firstRoundDone.size === options.proberIds.length) send({ type: 'firstRound', atMs: Date.now() });
      }
    }
  })().finally(() => void (stopped = true));
}

function success(nodeId: string, startedAtMs: number, rtt: number): ProbeResult {
  return create(ProbeResultSchema, {
    nodeId,
    ok: true,
    // Keep-alive connections: no connect time after the first probe.
    connectMs: 0,
    ttfbMs: rtt * 0.9,
    totalMs: rtt,
    statusCode: 200,
    load: -1,
    startedAtMs: BigInt(Math.round(startedAtMs)),
  });
}

const firstRoundDone = new Set<string>();
process.on('message', (m: { type: string }) => {
  if (m.type === 'stats') send({ type: 'stats', ...stats });
});
process.on('disconnect', () => {
  channel.close();
  process.exit(0);
});
const startMs = Date.now();
await Promise.all(options.proberIds.map((id) => startProber(id, startMs))).catch((error: unknown) => {
  process.stderr.write(`synthetic probers: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
