// Benchmark of the weight table (issue 5): probe results ingested per second into a table of
// 10 k nodes × 2 probers (target ≥ 100 k/s on one core), and the cost of a tick over 10 k nodes.
// Run: cd services/weight-calculator && npx tsc -b tsconfig.lib.json && node dist/bench/ingest.bench.js
// Prints one JSON line per measurement. Time is simulated (the table takes `nowMs`); only the
// measurements use the wall clock.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { create } from '@bufbuild/protobuf';
import { NodeSchema, NodeState, ProbeErrorClass, ProbeResultSchema } from '@cdn-sched/proto';
import type { Node, ProbeResult } from '@cdn-sched/proto';
import { createWeightTable } from '../domain/index.js';
import type { WeightTable } from '../domain/index.js';
import { createSeededUniform } from '@cdn-sched/testing';

const NODES = 10_000;
const PROBERS = ['prober-a', 'prober-b'];
const INTERVAL_MS = 5_000;
const T0 = 1_700_000_000_000;
const ROUNDS = 7;
const TIMED_PASSES = 5;
const REGIONS = ['CN-GD', 'CN-BJ', 'CN-SH', 'CN-ZJ', 'CN-JS', 'CN-SC', 'CN-HB', 'CN-FJ', 'CN-SD', 'CN-HA'];
const ISPS = ['ct', 'cu', 'cm', 'crtc'];

function makeNodes(): Node[] {
  return Array.from({ length: NODES }, (_, i) =>
    create(NodeSchema, {
      id: `edge-${i}`,
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 443,
      country: 'CN',
      region: REGIONS[i % REGIONS.length],
      isp: ISPS[i % ISPS.length],
      capacityRps: 500 + (i % 7) * 250,
      state: NodeState.ACTIVE,
      pools: [`pool-${i % 3}`],
    }),
  );
}

/** Each node's typical load (0.1..0.85), which its reports wobble around by ±0.01. */
const baseLoad = (() => {
  const random = createSeededUniform(99);
  return Array.from({ length: NODES }, () => 0.1 + 0.75 * random());
})();

/**
 * One probe round: every prober probes every node once; 1 % of probes fail, RTTs vary within
 * 25–105 ms, half the results carry a load report.
 */
function makePass(pass: number, random: () => number): Array<{ proberId: string; results: ProbeResult[] }> {
  return PROBERS.map((proberId, p) => ({
    proberId,
    results: Array.from({ length: NODES }, (_, i) => {
      const ok = random() >= 0.01;
      return create(ProbeResultSchema, {
        nodeId: `edge-${i}`,
        ok,
        errorClass: ok ? ProbeErrorClass.UNSPECIFIED : ProbeErrorClass.TIMEOUT,
        connectMs: ok ? 0 : 1_000,
        ttfbMs: 20 + random() * 60,
        totalMs: ok ? 25 + random() * 80 : 2_000,
        statusCode: ok ? 200 : 0,
        load: random() < 0.5 ? Math.min(1, baseLoad[i] + (random() - 0.5) * 0.02) : -1,
        startedAtMs: BigInt(T0 + pass * INTERVAL_MS + p * 7 + Math.floor(i / 10)),
      });
    }),
  }));
}

function passNowMs(pass: number): number {
  return T0 + pass * INTERVAL_MS + 3_000;
}

function ingestPass(table: WeightTable, pass: number, batches: ReturnType<typeof makePass>): number {
  const nowMs = passNowMs(pass);
  let rejected = 0;
  for (const { proberId, results } of batches) {
    for (let i = 0; i < results.length; i++) if (!table.ingest(proberId, results[i], nowMs).accepted) rejected++;
  }
  return rejected;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function emit(bench: string, metric: string, value: number, unit: string): void {
  console.log(JSON.stringify({ bench, metric, value: Math.round(value * 1000) / 1000, unit }));
}

// A full GC before each timed section, so that a section does not pay for the garbage of the
// bench's own input generation. The bench runs as plain `node <file>`, hence no --expose-gc flag.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

function benchIngest(nodes: Node[]): void {
  const random = createSeededUniform(1);
  const passes = Array.from({ length: TIMED_PASSES + 1 }, (_, pass) => makePass(pass, random));
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const table = createWeightTable();
    table.setNodes(nodes);
    // Pass 0 allocates the (node, prober) slots; the timed passes are the steady state.
    ingestPass(table, 0, passes[0]);
    collect();
    let rejected = 0;
    const started = performance.now();
    for (let pass = 1; pass <= TIMED_PASSES; pass++) rejected += ingestPass(table, pass, passes[pass]);
    const elapsedMs = performance.now() - started;
    if (rejected > 0) throw new Error(`bench inputs were rejected (${rejected}); the bench would measure the wrong path`);
    rates.push((TIMED_PASSES * NODES * PROBERS.length) / (elapsedMs / 1_000));
  }
  emit('weight-calculator/ingest', 'results_per_s_10k_nodes_2_probers', median(rates), 'results/s');
}

function benchTick(nodes: Node[]): void {
  const firstTicks: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const table = createWeightTable();
    table.setNodes(nodes);
    collect();
    const started = performance.now();
    const tick = table.tick(T0);
    firstTicks.push(performance.now() - started);
    if (tick.changed.length !== NODES) throw new Error('first tick must publish every node');
  }
  emit('weight-calculator/tick', 'first_tick_ms_10k_nodes', median(firstTicks), 'ms');

  // Steady state: past slow start (90 s of probe rounds), one tick after each new probe round.
  const random = createSeededUniform(2);
  const table = createWeightTable();
  table.setNodes(nodes);
  let pass = 0;
  for (; pass < 18; pass++) {
    ingestPass(table, pass, makePass(pass, random));
    table.tick(passNowMs(pass));
  }
  const steadyTicks: number[] = [];
  const changedCounts: number[] = [];
  for (let round = 0; round < ROUNDS; round++, pass++) {
    ingestPass(table, pass, makePass(pass, random));
    collect();
    const started = performance.now();
    const tick = table.tick(passNowMs(pass));
    steadyTicks.push(performance.now() - started);
    changedCounts.push(tick.changed.length);
  }
  emit('weight-calculator/tick', 'steady_tick_ms_10k_nodes', median(steadyTicks), 'ms');
  emit('weight-calculator/tick', 'steady_tick_changed_nodes', median(changedCounts), 'nodes');

  // Idle ticks (no new results), as when the wiring ticks every 250 ms between probe rounds.
  const idleTicks: number[] = [];
  let nowMs = passNowMs(pass - 1);
  for (let round = 0; round < ROUNDS; round++) {
    nowMs += 250;
    collect();
    const started = performance.now();
    table.tick(nowMs);
    idleTicks.push(performance.now() - started);
  }
  emit('weight-calculator/tick', 'idle_tick_ms_10k_nodes', median(idleTicks), 'ms');
}

const nodes = makeNodes();
benchIngest(nodes);
benchTick(nodes);
