import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { serviceDefinitions, type ResolveRequest } from '@cdn-sched/proto';
import { getFreePort, startGrpcServer, type TestGrpcServer } from '@cdn-sched/testing';
import { ServerError, Status, type ServiceImplementation } from 'nice-grpc';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CliError, parseArgs } from '../cli.js';
import { load } from './load-command.js';
import { createSchedule } from './pacing.js';
import type { Query } from './query-log.js';
import { replay } from './replay-command.js';
import { createResolverConnection, type ResolverConnection } from './resolver-connection.js';
import type { TrafficCommandIo } from './traffic-flags.js';
import { runTraffic } from './traffic-run.js';

/** The in-test resolver's knobs and what it saw. */
interface FakeState {
  /** Delay before each answer (unary) or each batch's answer (stream), in ms. */
  delayMs: number;
  seen: bigint[];
  streamsOpened: number;
}

/**
 * A resolver that answers after `delayMs`, echoes query ids, fails items for `bad.example` with
 * NOT_FOUND (5), marks `stale.example` degraded, ends the stream with UNAVAILABLE on a batch that
 * holds `kill.example`, and takes 1 s over `slow.example`.
 */
function fakeResolver(state: FakeState): ServiceImplementation<typeof serviceDefinitions.resolver> {
  const delayOf = (q: ResolveRequest): number => (q.domain === 'slow.example' ? 1000 : state.delayMs);
  const decide = (q: ResolveRequest) =>
    q.domain === 'bad.example'
      ? { queryId: q.queryId, result: { case: 'error' as const, value: { code: Status.NOT_FOUND, message: `unknown domain ${q.domain}` } } }
      : { queryId: q.queryId, result: { case: 'response' as const, value: { queryId: q.queryId, degraded: q.domain === 'stale.example' } } };
  return {
    async resolve(q, { signal }) {
      await sleep(delayOf(q), undefined, { signal });
      state.seen.push(q.queryId);
      if (q.domain === 'bad.example') throw new ServerError(Status.NOT_FOUND, `unknown domain ${q.domain}`);
      return { queryId: q.queryId, degraded: q.domain === 'stale.example' };
    },
    async *resolveStream(requests, { signal }) {
      state.streamsOpened++;
      for await (const batch of requests) {
        await sleep(Math.max(0, ...batch.queries.map(delayOf)), undefined, { signal });
        if (batch.queries.some((q) => q.domain === 'kill.example')) throw new ServerError(Status.UNAVAILABLE, 'going away');
        for (const q of batch.queries) state.seen.push(q.queryId);
        yield { decisions: batch.queries.map(decide) };
      }
    },
    status() {
      throw new ServerError(Status.UNIMPLEMENTED, 'not in this test');
    },
  };
}

/** `n` queries; `domainOf(i)` picks the domain of query `i` (0-based). */
function queries(n: number, domainOf: (i: number) => string = () => 'music.demo.example'): Query[] {
  return Array.from({ length: n }, (_, i) => ({ clientIp: `10.0.${i >> 8}.${i & 255}`, ecsSubnet: '', domain: domainOf(i) }));
}

describe('traffic runs against a real gRPC resolver', () => {
  const state: FakeState = { delayMs: 0, seen: [], streamsOpened: 0 };
  let server: TestGrpcServer;
  let connection: ResolverConnection;

  beforeAll(async () => {
    server = await startGrpcServer((s) => s.add(serviceDefinitions.resolver, fakeResolver(state)));
    connection = createResolverConnection(server.address);
    await connection.waitReady(5000);
  });
  afterAll(async () => {
    connection.close();
    await server.close();
  });
  afterEach(() => {
    state.delayMs = 0;
    state.seen = [];
    state.streamsOpened = 0;
  });

  it('streams batches, counts item errors by code and degraded answers, and sends every query id once', async () => {
    const log = queries(1000, (i) => (i % 10 === 0 ? 'bad.example' : i % 50 === 25 ? 'stale.example' : 'music.demo.example'));
    const { summary } = await runTraffic({ connection, queries: log, schedule: createSchedule({ rps: 0, batchSize: 50, totalQueries: 1000 }), mode: 'stream', concurrency: 4 });
    expect(summary.queries).toEqual({ sent: 1000, ok: 900, failed: 100, degraded: 20 });
    expect(summary.requests).toEqual({ sent: 20, ok: 20, failed: 0 });
    expect(summary.errors).toEqual({ NOT_FOUND: 100 });
    expect(summary.requestErrors).toEqual({});
    expect(summary.latencyMs.query.count).toBe(1000);
    expect(summary.latencyMs.request.count).toBe(20);
    expect(summary.offered).toEqual({ rps: null, queries: 1000, unsent: 0 });
    expect(state.streamsOpened).toBe(4);
    expect(state.seen.map(Number).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
  });

  it('measures unary calls: latency reflects the server delay, a failed call counts under its status', async () => {
    state.delayMs = 25;
    const log = queries(40, (i) => (i === 7 ? 'bad.example' : 'video.demo.example'));
    const { summary } = await runTraffic({ connection, queries: log, schedule: createSchedule({ rps: 0, batchSize: 1, totalQueries: 40 }), mode: 'unary', concurrency: 4 });
    expect(summary.queries).toEqual({ sent: 40, ok: 39, failed: 1, degraded: 0 });
    expect(summary.errors).toEqual({ NOT_FOUND: 1 });
    expect(summary.requestErrors).toEqual({ NOT_FOUND: 1 });
    expect(summary.latencyMs.request.p50).toBeGreaterThanOrEqual(24);
    // Not the whole run's time (margin for a loaded machine).
    expect(summary.latencyMs.request.p50).toBeLessThan(1000);
    expect(summary.latencyMs.query.p50).toBeGreaterThanOrEqual(24);
  });

  it('gives each stream query its batch round trip as latency', async () => {
    state.delayMs = 30;
    const { summary } = await runTraffic({ connection, queries: queries(100), schedule: createSchedule({ rps: 0, batchSize: 10, totalQueries: 100 }), mode: 'stream', concurrency: 2 });
    expect(summary.latencyMs.request.p50).toBeGreaterThanOrEqual(29);
    expect(summary.latencyMs.request.p50).toBeLessThan(1000);
    expect(summary.latencyMs.query.p50).toBeGreaterThanOrEqual(29);
    expect(summary.latencyMs.query.max).toBeCloseTo(summary.latencyMs.request.max, 0);
  });

  it('paces open-loop at the offered rate when the server keeps up', async () => {
    const { summary, elapsedMs } = await runTraffic({ connection, queries: queries(64), schedule: createSchedule({ rps: 500, batchSize: 10, durationMs: 1000 }), mode: 'stream', concurrency: 2 });
    expect(summary.offered).toMatchObject({ rps: 500, queries: 500 });
    // Every slot goes out (bar one or two that a loaded test machine may leave unsent at the end).
    expect(summary.queries.sent).toBeGreaterThanOrEqual(480);
    expect(summary.offered.unsent).toBe(500 - summary.queries.sent);
    expect(summary.queries.ok).toBe(summary.queries.sent);
    // The last slot is at 980 ms: the run takes the duration, not as long as the server allows.
    // (Upper bounds with room for a loaded machine: the run is not stretched by the server.)
    expect(elapsedMs).toBeGreaterThanOrEqual(975);
    expect(elapsedMs).toBeLessThan(3000);
    expect(summary.achieved.queriesPerS).toBeGreaterThan(160);
    expect(summary.achieved.queriesPerS).toBeLessThan(520);
  });

  it('shows a slow server as latency and unsent slots, not as a lower offered rate (coordinated omission)', async () => {
    state.delayMs = 100;
    // Slots every 25 ms, one stream that needs 100 ms per batch: request k waits ~75·k ms for it.
    const { summary } = await runTraffic({ connection, queries: queries(100), schedule: createSchedule({ rps: 400, batchSize: 10, durationMs: 1000 }), mode: 'stream', concurrency: 1 });
    expect(summary.offered.rps).toBe(400);
    expect(summary.offered.queries).toBe(400);
    expect(summary.queries.sent).toBeLessThanOrEqual(120);
    expect(summary.offered.unsent).toBe(400 - summary.queries.sent);
    expect(summary.latencyMs.request.p50).toBeGreaterThan(250);
    expect(summary.latencyMs.request.max).toBeGreaterThan(500);
    expect(summary.queries.failed).toBe(0);
  });

  it('fails the batch of a broken stream with its status, reopens the stream and goes on', async () => {
    const log = queries(100, (i) => (i === 35 ? 'kill.example' : 'music.demo.example'));
    const { summary } = await runTraffic({ connection, queries: log, schedule: createSchedule({ rps: 0, batchSize: 10, totalQueries: 100 }), mode: 'stream', concurrency: 1 });
    expect(summary.queries).toEqual({ sent: 100, ok: 90, failed: 10, degraded: 0 });
    expect(summary.requests).toEqual({ sent: 10, ok: 9, failed: 1 });
    expect(summary.errors).toEqual({ UNAVAILABLE: 10 });
    expect(summary.requestErrors).toEqual({ UNAVAILABLE: 1 });
    expect(state.streamsOpened).toBe(2);
  });

  it('counts a request past its deadline as DEADLINE_EXCEEDED, in both modes', async () => {
    const log = queries(6, (i) => (i === 2 ? 'slow.example' : 'music.demo.example'));
    const unary = await runTraffic({ connection, queries: log, schedule: createSchedule({ rps: 0, batchSize: 1, totalQueries: 6 }), mode: 'unary', concurrency: 1, requestTimeoutMs: 200 });
    expect(unary.summary.queries).toMatchObject({ sent: 6, ok: 5, failed: 1 });
    expect(unary.summary.errors).toEqual({ DEADLINE_EXCEEDED: 1 });
    const stream = await runTraffic({ connection, queries: log, schedule: createSchedule({ rps: 0, batchSize: 2, totalQueries: 6 }), mode: 'stream', concurrency: 1, requestTimeoutMs: 200 });
    expect(stream.summary.queries).toMatchObject({ sent: 6, ok: 4, failed: 2 });
    expect(stream.summary.requestErrors).toEqual({ DEADLINE_EXCEEDED: 1 });
  });

  it('stops at once when aborted (Ctrl-C), counting the calls cut short as CANCELLED', async () => {
    state.delayMs = 100;
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 250);
    const started = performance.now();
    // 16 callers: more listeners on the run's signal than Node's default warning threshold.
    const { summary } = await runTraffic({ connection, queries: queries(10), schedule: createSchedule({ rps: 0, batchSize: 1, durationMs: 10_000 }), mode: 'unary', concurrency: 16, signal: ac.signal });
    process.off('warning', onWarning);
    // At the abort (250 ms), not at the end of the 10 s run; margin for a loaded machine.
    expect(performance.now() - started).toBeLessThan(5000);
    expect(summary.queries.ok).toBeGreaterThanOrEqual(16);
    expect(summary.errors).toEqual({ CANCELLED: 16 });
    expect(summary.queries.sent).toBe(summary.queries.ok + 16);
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });

  it('reports progress once per interval while it runs', async () => {
    state.delayMs = 20;
    const samples: number[] = [];
    await runTraffic({
      connection,
      queries: queries(10),
      schedule: createSchedule({ rps: 100, batchSize: 5, durationMs: 500 }),
      mode: 'stream',
      concurrency: 1,
      progressIntervalMs: 100,
      onProgress: (s) => samples.push(s.decisions),
    });
    expect(samples.length).toBeGreaterThanOrEqual(3);
    expect(samples.length).toBeLessThanOrEqual(6);
    expect(samples.reduce((a, b) => a + b)).toBeGreaterThan(20);
  });
});

describe('traffic runs when the resolver goes away', () => {
  it('counts calls lost to a dead resolver as UNAVAILABLE and backs off instead of spinning', async () => {
    const state: FakeState = { delayMs: 0, seen: [], streamsOpened: 0 };
    const server = await startGrpcServer((s) => s.add(serviceDefinitions.resolver, fakeResolver(state)));
    const connection = createResolverConnection(server.address);
    try {
      await connection.waitReady(5000);
      const run = runTraffic({ connection, queries: queries(100), schedule: createSchedule({ rps: 200, batchSize: 1, durationMs: 1200 }), mode: 'unary', concurrency: 2 });
      await sleep(300);
      await server.close(0);
      const { summary } = await run;
      expect(summary.queries.ok).toBeGreaterThan(30);
      expect(summary.requestErrors['UNAVAILABLE']).toBeGreaterThan(0);
      // Two callers pausing 25 ms doubling to 1 s over ~0.9 s: a handful of failures each, where
      // the schedule alone would have tried ~180 times.
      expect(summary.requestErrors['UNAVAILABLE']).toBeLessThan(30);
    } finally {
      connection.close();
      await server.close(0);
    }
  });
});

describe('replay and load commands', () => {
  const state: FakeState = { delayMs: 0, seen: [], streamsOpened: 0 };
  let server: TestGrpcServer;
  let dir: string;

  beforeAll(async () => {
    server = await startGrpcServer((s) => s.add(serviceDefinitions.resolver, fakeResolver(state)));
    dir = await mkdtemp(join(tmpdir(), 'cdnctl-replay-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  const captureIo = (): TrafficCommandIo & { out: string[]; err: string[] } => {
    const out: string[] = [];
    const err: string[] = [];
    return {
      out,
      err,
      stdout: { write: (t: string) => out.push(t) },
      stderr: { write: (t: string) => err.push(t), isTTY: false },
      connectTimeoutMs: 2000,
      progressIntervalMs: 100,
      signal: new AbortController().signal,
    };
  };

  it('replays a log file, lists its bad lines, and prints one JSON object', async () => {
    state.delayMs = 5;
    const file = join(dir, 'q.log');
    await writeFile(file, '# test log\n1.2.3.4 music.demo.example\n1.2.3 broken.example\n5.6.7.8,bad.example\n9.9.9.0/24 video.demo.example\n');
    const io = captureIo();
    await replay(parseArgs([file, '--resolver', server.address, '--batch', '2', '--json']), io);
    expect(io.err.join('')).toContain(`${file}:3: client address: '1.2.3' is not an IPv4 or IPv6 address: 1.2.3 broken.example`);
    expect(io.out).toHaveLength(1);
    const result = JSON.parse(io.out[0]!) as Record<string, unknown>;
    expect(result).toMatchObject({
      command: 'replay',
      file,
      target: server.address,
      mode: 'stream',
      batch: 2,
      badLines: 1,
      queries: { sent: 3, ok: 2, failed: 1, degraded: 0 },
      requests: { sent: 2, ok: 2, failed: 0 },
      errors: { NOT_FOUND: 1 },
    });
  });

  it('loops the log for --duration at --rps and reports progress on stderr', async () => {
    const file = join(dir, 'short.log');
    await writeFile(file, '1.2.3.4 music.demo.example\n');
    const io = captureIo();
    await replay(parseArgs([file, '--resolver', server.address, '--unary', '--rps', '100', '--duration', '500ms', '--concurrency', '2']), io);
    const report = io.out.join('');
    expect(report).toMatch(/offered +100 q\/s \(50 queries\)/);
    // One line looped 50 times. A slot still waiting for a worker when the time is up is
    // reported unsent, which a busy test machine can cause for the last one or two.
    const [, sent, ok] = /queries +(\d+) sent, (\d+) ok, 0 failed, 0 degraded/.exec(report) ?? [];
    expect(Number(sent)).toBeGreaterThanOrEqual(45);
    expect(Number(ok)).toBe(Number(sent));
    const progress = io.err.filter((l) => l.startsWith('replay ['));
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress[0]).toMatch(/^replay \[0s\] offered 100 q\/s, achieved \d+ q\/s, .*\n$/);
  });

  it('exits with an error naming the address when the resolver is down', async () => {
    const port = await getFreePort();
    const file = join(dir, 'down.log');
    await writeFile(file, '1.2.3.4 music.demo.example\n');
    const started = performance.now();
    const error = await replay(parseArgs([file, '--resolver', `127.0.0.1:${port}`]), captureIo()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(1);
    expect((error as CliError).message).toMatch(new RegExp(`^UNAVAILABLE: cannot connect to the resolver at 127\\.0\\.0\\.1:${port} \\(is it running\\?`));
    // A refused connection is reported at once, not after the whole (5 s) connect timeout.
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it('exits with an error when every query failed', async () => {
    const file = join(dir, 'bad.log');
    await writeFile(file, '1.2.3.4 bad.example\n5.6.7.8 bad.example\n');
    const io = captureIo();
    const error = await replay(parseArgs([file, '--resolver', server.address]), io).catch((e: unknown) => e);
    expect((error as CliError).message).toBe(`every query failed (NOT_FOUND 2) against the resolver at ${server.address}`);
    expect(io.out.join('')).toMatch(/queries +2 sent, 0 ok, 2 failed/);
  });

  it('refuses a log without one good line', async () => {
    const file = join(dir, 'empty.log');
    await writeFile(file, '# nothing\nnot-an-ip x.example\n');
    const error = await replay(parseArgs([file, '--resolver', server.address]), captureIo()).catch((e: unknown) => e);
    expect((error as CliError).exitCode).toBe(2);
    expect((error as CliError).message).toMatch(/no queries to replay/);
  });

  it('load runs each concurrency step for its share of the duration and reports steps and total', async () => {
    state.delayMs = 0;
    const io = captureIo();
    await load(parseArgs(['--resolver', server.address, '--rps', '300', '--duration', '1.5s', '--step-concurrency', '1,2,3', '--batch', '10', '--json', '--seed', '9']), io);
    type Figures = { queries: { sent: number; ok: number }; offered: { rps: number; queries: number; unsent: number }; durationS: number };
    const result = JSON.parse(io.out[0]!) as { steps: (Figures & { concurrency: number })[]; total: Figures };
    expect(result.steps.map((s) => s.concurrency)).toEqual([1, 2, 3]);
    for (const step of result.steps) {
      // 300 q/s for 0.5 s each, in batches of 10.
      expect(step.offered).toEqual({ rps: 300, queries: 150, unsent: 150 - step.queries.sent });
      expect(step.queries.sent).toBeGreaterThanOrEqual(140);
      expect(step.queries.ok).toBe(step.queries.sent);
      expect(step.durationS).toBeGreaterThanOrEqual(0.45);
    }
    expect(result.total.queries.sent).toBe(result.steps.reduce((n, s) => n + s.queries.sent, 0));
    expect(result.total.queries.ok).toBe(result.total.queries.sent);
    expect(result.total.offered.rps).toBe(300);
    expect(io.err.some((l) => l.startsWith('load step 2/3 (concurrency 2) ['))).toBe(true);
  });
});
