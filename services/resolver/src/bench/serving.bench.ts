/**
 * Serving benchmark of the resolver over gRPC on loopback (docs/architecture.md targets: ResolveStream ≥ 300 k
 * decisions/s and ≥ 0.7× a bare grpc-js echo stream with the same batching; unary Resolve ≥ 0.8×
 * a bare grpc-js unary echo at the same concurrency).
 *
 * Run: `cd services/resolver && npx tsc -b tsconfig.lib.json && node --expose-gc dist/bench/serving.bench.js`.
 * Prints one JSON line per measurement; takes about 75 s.
 *
 * Three processes: this one (orchestration only: it is idle while a run is measured), the server
 * (`bench-server.ts`: the real resolver and the echo baseline) and the load client
 * (`bench-client.ts`), so that the server and the client each have one of the machine's two
 * cores. Each configuration (ResolveStream at B = 100 and 500 queries per batch over K streams
 * with D batches in flight each; unary Resolve with C calls outstanding) is warmed up on both
 * servers, then measured in ROUNDS rounds of one resolver run and one echo run, in alternating
 * order (R E, E R, R E …) so that drift in the machine's load falls on both. Figures are medians
 * over the rounds; a ratio is the median of the per-round ratios (the two runs of a round are
 * seconds apart). Besides wall-clock rates, each configuration reports items per second of server
 * CPU: the machine is shared, and when other work takes a core the wall-clock rate drops while
 * the per-CPU one moves much less. Each configuration also reports the server's mark-compacts per
 * second (and prints every round's rate with its mark-compact count on stderr): a resolver under
 * steady ResolveStream load can run a mark-compact every ~0.1 s, which costs it ~40 % of its rate,
 * and a figure is only comparable with another from the same GC mode (docs/benchmarks.md,
 * "Decision path benchmarks").
 *
 * Environment (defaults in brackets): BENCH_ROUNDS [3], BENCH_MEASURE_MS [3000] per run,
 * BENCH_WARMUP_MS [300] per run, BENCH_STREAMS [2], BENCH_DEPTH [4], BENCH_CONCURRENCY [64],
 * BENCH_WINDOW_BYTES [0 = grpc-js's 64 KiB],
 * BENCH_CONFIGS [b100,b500,unary] (a subset to run), BENCH_COMPACT [0] (1: every query asks for
 * the compact response, resolver.proto `ResolveRequest.compact`; metric names end in `_compact`),
 * BENCH_SERVER_NODE_FLAGS [--max-semi-space-size=1] (the server's node flags after the resolver's
 * own: bench-processes.ts `benchServerArgv` says why),
 * BENCH_UNARY_PATH [direct] (nice: unary Resolve through its nice-grpc handler instead of the
 * direct method, for comparison), BENCH_STREAM_PATH [direct] (nice: ResolveStream likewise; also
 * read by resolver-alone's server), BENCH_CPU_PROF (a directory: the server process
 * writes a V8 CPU profile there on exit), BENCH_TRACING [0] (1: start the server with
 * `--import @cdn-sched/telemetry/register`, as production does; without OTEL_* variables that
 * patches grpc-js with the instrumentation but samples nothing).
 */
import { fromBinary } from '@bufbuild/protobuf';
import { createGeoIpProvider } from '@cdn-sched/geoip';
import { ResolveRequestSchema, ResolveResponseSchema } from '@cdn-sched/proto';
import {
  MAX_ERROR_SHARE,
  median,
  streamReplyErrorShare,
  type BenchRequests,
  type BenchTarget,
  type ClientCommand,
  type ClientMessage,
  type RunCommand,
  type ServerCommand,
  type ServerMessage,
} from './bench-protocol.js';
import { benchServerArgv, forkChild, type Child } from './bench-processes.js';
import { createServingQueries, encodeBatches, encodeUnary } from './bench-workload.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const ROUNDS = env('BENCH_ROUNDS', 3);
const MEASURE_MS = env('BENCH_MEASURE_MS', 3000);
const WARMUP_MS = env('BENCH_WARMUP_MS', 300);
/** Measured length of the unrecorded run that warms each server up on each configuration. */
const FIRST_RUN_MS = 1000;
const STREAMS = env('BENCH_STREAMS', 2);
const DEPTH = env('BENCH_DEPTH', 4);
const CONCURRENCY = env('BENCH_CONCURRENCY', 64);
/**
 * The client's HTTP/2 receive window; 0 keeps grpc-js's 64 KiB. With it, the echo at B = 500
 * (63 KB replies) waits on WINDOW_UPDATEs and runs at ~0.3 of a core; a 4 MiB window makes it
 * ~3.5× faster. The resolver, CPU-bound, gains little. The default is kept: it is what a client
 * gets unless it tunes the channel, and the same for both servers.
 */
const WINDOW_BYTES = env('BENCH_WINDOW_BYTES', 0);
/** Which configurations run: b<size> for ResolveStream batches, `unary` for Resolve. */
const CONFIGS = (process.env['BENCH_CONFIGS'] ?? 'b100,b500,unary').split(',');
const BATCH_SIZES = [100, 500].filter((size) => CONFIGS.includes(`b${size}`));
const SEED = 20240601;
const COMPACT = process.env['BENCH_COMPACT'] === '1';
const SUFFIX = COMPACT ? '_compact' : '';
const UNARY_REQUESTS = 4096;

const start = <In, Out extends { type: string }>(file: string, execArgv: string[] = []): Child<In, Out> => forkChild(new URL(file, import.meta.url), execArgv);

type Server = Child<ServerCommand, ServerMessage>;
type Client = Child<ClientCommand, ClientMessage>;
type Result = Extract<ClientMessage, { type: 'result' }>;
type Window = Extract<ServerMessage, { type: 'window' }>;
interface Run {
  result: Result;
  window: Window;
}

/** One run: the client loads one server; the server's window is bracketed by the client's. */
async function measure(server: Server, client: Client, command: RunCommand): Promise<Run> {
  const measuring = client.next('measuring');
  const measured = client.next('measured');
  const result = client.next('result');
  client.send(command);
  await measuring;
  server.send({ type: 'mark' });
  await measured;
  const window = server.next('window');
  server.send({ type: 'report' });
  return { result: await result, window: await window };
}

/** Checks a run's sample reply: as many decisions as queries, and (from the resolver) their ids. */
function check(target: BenchTarget, command: RunCommand, run: Run): number {
  const { request, reply } = run.result.sample;
  if (command.type === 'unary') {
    const response = fromBinary(ResolveResponseSchema, reply);
    if (target === 'resolver' && response.queryId !== fromBinary(ResolveRequestSchema, request).queryId) throw new Error('unary reply for another query');
    if (response.answers.length === 0) throw new Error('unary reply without answers');
    return run.result.errors / Math.max(1, run.result.completed);
  }
  return streamReplyErrorShare(request, reply, target, target === 'resolver');
}

const round3 = (x: number): number => (Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000);

function emit(metric: string, value: number, unit: string, baseline?: number, ratio?: number, target?: string): void {
  const line: Record<string, unknown> = { bench: 'resolver', metric, value: round3(value), unit };
  if (baseline !== undefined) line['baseline'] = round3(baseline);
  if (ratio !== undefined) line['ratio'] = round3(ratio);
  if (target !== undefined) line['target'] = target;
  console.log(JSON.stringify(line));
}

/** Warm-up on both servers, then ROUNDS alternating rounds; returns the runs per server. */
async function compare(server: Server, client: Client, ports: Record<BenchTarget, number>, command: (port: number, measureMs: number) => RunCommand) {
  const runs: Record<BenchTarget, Run[]> = { resolver: [], echo: [], echoCodec: [] };
  const errorShares: number[] = [];
  const targets: BenchTarget[] = ['resolver', 'echo', 'echoCodec'];
  for (const target of targets) await measure(server, client, command(ports[target], FIRST_RUN_MS));
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order so that drift of the shared machine does not favour one server.
    const order: BenchTarget[] = targets.map((_, i) => targets[(i + round) % targets.length]!);
    for (const target of order) {
      const run = await measure(server, client, command(ports[target], MEASURE_MS));
      const errorShare = check(target, command(0, 0), run);
      // The workload's item errors are ~3 % (policies that error when nobody is up); far more means
      // the benchmark would be timing error paths.
      if (errorShare > MAX_ERROR_SHARE) throw new Error(`${target}: ${(errorShare * 100).toFixed(1)} % of the sampled answers are errors`);
      if (target === 'resolver') errorShares.push(errorShare);
      runs[target].push(run);
    }
  }
  return { runs, errorShare: median(errorShares) };
}

function report(name: string, itemsPerCall: number, unit: string, runs: Record<BenchTarget, Run[]>, rateTarget: string): void {
  const rate = (r: Run): number => (r.result.completed * itemsPerCall) / r.result.seconds;
  const perCpu = (r: Run): number => r.window.decisions / (r.window.cpuMs / 1000);
  const paired = (f: (r: Run) => number): number => median(runs.resolver.map((r, i) => f(r) / f(runs.echo[i]!)));
  const both = (metric: string, f: (r: Run) => number, unitOf: string, target?: string): void =>
    emit(`${name}_${metric}`, median(runs.resolver.map(f)), unitOf, median(runs.echo.map(f)), paired(f), target);
  both('rate', rate, unit, rateTarget);
  // The same rate against the codec echo (a plain grpc-js service that decodes and encodes).
  emit(`${name}_rate_vs_codec_echo`, median(runs.resolver.map(rate)), unit, median(runs.echoCodec.map(rate)), median(runs.resolver.map((r, i) => rate(r) / rate(runs.echoCodec[i]!))), rateTarget);
  emit(`${name}_per_server_cpu_s_vs_codec_echo`, median(runs.resolver.map(perCpu)), unit.replace('/s', '/cpu-s'), median(runs.echoCodec.map(perCpu)), median(runs.resolver.map((r, i) => perCpu(r) / perCpu(runs.echoCodec[i]!))));
  both('per_server_cpu_s', perCpu, unit.replace('/s', '/cpu-s'));
  both('rtt_p50', (r) => r.result.p50Ms, 'ms');
  both('rtt_p99', (r) => r.result.p99Ms, 'ms');
  both('server_cpu_share', (r) => r.window.cpuMs / r.window.wallMs, 'cores');
  both('client_cpu_share', (r) => r.result.cpuMs / (r.result.seconds * 1000), 'cores');
  // Whether the server ran in the mark-compact loop (several a second) or without it, per run.
  both('server_mark_compacts_per_s', (r) => r.window.markCompacts / (r.window.wallMs / 1000), '1/s');
  const perRound = (r: Run): string => `${Math.round(perCpu(r))}/cpu-s with ${r.window.markCompacts} mark-compacts`;
  process.stderr.write(`${name} rounds: resolver ${runs.resolver.map(perRound).join(', ')}; echo ${runs.echo.map(perRound).join(', ')}\n`);
}

async function main(): Promise<void> {
  const geo = await createGeoIpProvider();
  // 64 batches of 500 and 320 of 100: the client cycles through them.
  const queries = createServingQueries(geo.database, SEED, COMPACT);
  geo.close();
  const requests: BenchRequests = {
    batches: Object.fromEntries(BATCH_SIZES.map((size) => [size, encodeBatches(queries, size)])),
    unary: encodeUnary(queries.slice(0, UNARY_REQUESTS)),
  };

  // As production starts services: OpenTelemetry's grpc-js instrumentation patches both servers.
  const serverArgv = benchServerArgv(process.env['BENCH_TRACING'] === '1' ? ['--import', import.meta.resolve('@cdn-sched/telemetry/register')] : []);
  const server: Server = start('./bench-server.js', serverArgv);
  const client: Client = start('./bench-client.js');
  await Promise.all([server.started, client.started]);
  const serverReady = server.next('ready');
  const clientReady = client.next('ready');
  server.send({ type: 'init', seed: SEED, requests });
  client.send({ type: 'init', requests, windowBytes: WINDOW_BYTES });
  const { ports, replyBytes } = await serverReady;
  await clientReady;
  process.stderr.write(`reply bytes: ${JSON.stringify(replyBytes)}; K=${STREAMS} streams, depth ${DEPTH}, C=${CONCURRENCY}, ${ROUNDS} rounds of ${MEASURE_MS} ms\n`);

  for (const batchSize of BATCH_SIZES) {
    const { runs, errorShare } = await compare(server, client, ports, (port, measureMs) => ({
      type: 'stream',
      port,
      batchSize,
      streams: STREAMS,
      depth: DEPTH,
      warmupMs: WARMUP_MS,
      measureMs,
    }));
    const name = `resolve_stream_b${batchSize}_k${STREAMS}_d${DEPTH}${SUFFIX}`;
    report(name, batchSize, 'decisions/s', runs, '≥ 300000 decisions/s; ratio ≥ 0.7 of echo');
    const p99 = (r: Run): number => r.window.eventLoopDelayP99Ms;
    const max = (r: Run): number => r.window.eventLoopDelayMaxMs;
    emit(`${name}_server_event_loop_delay_p99`, median(runs.resolver.map(p99)), 'ms', median(runs.echo.map(p99)));
    emit(`${name}_server_event_loop_delay_max`, median(runs.resolver.map(max)), 'ms', median(runs.echo.map(max)));
    process.stderr.write(`b${batchSize}: item errors in sampled replies ${(errorShare * 100).toFixed(1)} %\n`);
  }

  if (CONFIGS.includes('unary')) {
    const { runs, errorShare } = await compare(server, client, ports, (port, measureMs) => ({
      type: 'unary',
      port,
      concurrency: CONCURRENCY,
      warmupMs: WARMUP_MS,
      measureMs,
    }));
    report(`resolve_unary_c${CONCURRENCY}${SUFFIX}`, 1, 'calls/s', runs, 'ratio ≥ 0.8 of echo');
    process.stderr.write(`unary: error statuses ${(errorShare * 100).toFixed(1)} %\n`);
  }

  server.send({ type: 'close' });
  client.send({ type: 'close' });
  const codes = await Promise.all([server.exited, client.exited]);
  if (codes.some((code) => code !== 0)) throw new Error(`a child exited with ${codes.join(', ')}`);
}

await main();
