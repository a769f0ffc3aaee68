/**
 * Load client of the serving benchmark, forked by `serving.bench.ts` so that its CPU is not the
 * server's (one core each on a two-core machine).
 *
 * It speaks raw grpc-js with identity serializers, to the resolver and to the echo alike. The
 * choice: requests are encoded once by the parent, and replies are counted, timed and dropped
 * without being decoded, so the client spends the same on a batch whichever server answered it,
 * and as little as it can. A nice-grpc client decoding every ResolveStreamResponse reflectively
 * would cost the client more CPU per decision than the resolver spends making it, and the
 * benchmark would measure the client. The parent decodes one reply per run to check it.
 *
 * One channel per server for the whole run (as a DNS front-end keeps one per resolver). A stream
 * run opens K bidi streams on it, writes `depth` batches on each and writes the next whenever a
 * reply comes back, so `depth` batches stay in flight per stream; replies come back in request
 * order on a stream, so a batch's round trip is the time since the oldest write. A unary run keeps
 * C calls outstanding the same way. After the warm-up, replies are counted for `measureMs`; the
 * client then stops writing, lets what is in flight come back and ends its streams.
 */
import * as grpc from '@grpc/grpc-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { asBuffer, BATCH_SIZE_HEADER, percentile, rawMethods, type ClientCommand, type ClientMessage, type RunCommand } from './bench-protocol.js';

/** Round trips kept per run for the percentiles: 8 s of 64 k unary calls/s fits. */
const RTT_CAPACITY = 1 << 19;

type Result = Extract<ClientMessage, { type: 'result' }>;

const send = (message: ClientMessage): void => void process.send?.(message);
const identity = (bytes: Buffer): Buffer => bytes;
const channels = new Map<string, grpc.Client>();
let windowBytes = 0;
/**
 * Channel `index` to `port`, kept for the whole run. grpc-js shares one connection between channels
 * of the same target and options, so each index past 0 gets a local subchannel pool (a connection
 * of its own).
 */
const channel = (port: number, index = 0): grpc.Client => {
  const key = `${port}/${index}`;
  let client = channels.get(key);
  if (!client) {
    const options: grpc.ChannelOptions = {
      ...(windowBytes > 0 ? { 'grpc-node.flow_control_window': windowBytes } : {}),
      ...(index > 0 ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
    };
    client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options);
    channels.set(key, client);
  }
  return client;
};
const rtts = new Float64Array(RTT_CAPACITY);
let batches = new Map<number, Buffer[]>();
let unary: Buffer[] = [];

/** State of one run's measured window, shared by its streams or calls. */
function createWindow(warmupMs: number, measureMs: number) {
  const w = {
    measuring: false,
    stopping: false,
    completed: 0,
    errors: 0,
    recorded: 0,
    seconds: 0,
    cpuMs: 0,
    sample: undefined as Result['sample'] | undefined,
    record(rttMs: number, request: Buffer, reply: Buffer | undefined): void {
      if (!w.measuring) return;
      w.completed++;
      if (reply === undefined) w.errors++;
      if (w.recorded < RTT_CAPACITY) rtts[w.recorded++] = rttMs;
      if (w.sample === undefined && reply !== undefined) w.sample = { request: Uint8Array.from(request), reply: Uint8Array.from(reply) };
    },
    async run(): Promise<void> {
      await sleep(warmupMs);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      w.measuring = true;
      send({ type: 'measuring' });
      await sleep(measureMs);
      w.measuring = false;
      w.stopping = true;
      w.seconds = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      w.cpuMs = (cpu.user + cpu.system) / 1000;
      send({ type: 'measured' });
    },
    result(): Result {
      if (w.sample === undefined) throw new Error('no reply inside the measured window');
      return { type: 'result', completed: w.completed, errors: w.errors, seconds: w.seconds, p50Ms: percentile(rtts, w.recorded, 50), p99Ms: percentile(rtts, w.recorded, 99), cpuMs: w.cpuMs, sample: w.sample };
    },
  };
  return w;
}

async function runStreams(command: Extract<RunCommand, { type: 'stream' }>): Promise<Result> {
  const requests = batches.get(command.batchSize);
  if (!requests) throw new Error(`no request batches of ${command.batchSize}`);
  const connections = command.connections ?? 1;
  const metadata = new grpc.Metadata();
  metadata.set(BATCH_SIZE_HEADER, String(command.batchSize));
  const w = createWindow(command.warmupMs, command.measureMs);
  let next = 0;
  const stream = (_: unknown, i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const call = channel(command.port, i % connections).makeBidiStreamRequest(rawMethods.resolveStream.path, identity, identity, metadata);
      // Ring of the batches in flight on this stream: write time and which batch.
      const sentAt = new Float64Array(command.depth);
      const sentIndex = new Int32Array(command.depth);
      let head = 0;
      let inFlight = 0;
      const write = (): void => {
        const index = next++ % requests.length;
        const slot = (head + inFlight) % command.depth;
        sentAt[slot] = performance.now();
        sentIndex[slot] = index;
        inFlight++;
        call.write(requests[index]!);
      };
      call.on('data', (reply: Buffer) => {
        w.record(performance.now() - sentAt[head]!, requests[sentIndex[head]!]!, reply);
        head = (head + 1) % command.depth;
        inFlight--;
        if (!w.stopping) write();
        else if (inFlight === 0) call.end();
      });
      call.on('error', reject);
      call.on('status', (status: grpc.StatusObject) => (status.code === grpc.status.OK ? resolve() : reject(new Error(status.details))));
      for (let d = 0; d < command.depth; d++) write();
    });
  const streams = Array.from({ length: command.streams }, stream);
  await w.run();
  await Promise.all(streams);
  return w.result();
}

async function runUnary(command: Extract<RunCommand, { type: 'unary' }>): Promise<Result> {
  const client = channel(command.port);
  const metadata = new grpc.Metadata();
  const w = createWindow(command.warmupMs, command.measureMs);
  let next = 0;
  const caller = (): Promise<void> =>
    new Promise((resolve) => {
      const call = (): void => {
        const request = unary[next++ % unary.length]!;
        const t0 = performance.now();
        client.makeUnaryRequest(rawMethods.resolve.path, identity, identity, request, metadata, (error: grpc.ServiceError | null, reply?: Buffer) => {
          // An error status is an answer too (the resolver's item errors: no policy, nobody up
          // under an error-when-down policy); the parent checks their share.
          w.record(performance.now() - t0, request, error ? undefined : reply);
          if (w.stopping) resolve();
          else call();
        });
      };
      call();
    });
  const callers = Array.from({ length: command.concurrency }, caller);
  await w.run();
  await Promise.all(callers);
  return w.result();
}

process.on('message', (command: ClientCommand) => {
  if (command.type === 'init') {
    batches = new Map(Object.entries(command.requests.batches).map(([size, list]) => [Number(size), list.map(asBuffer)]));
    unary = command.requests.unary.map(asBuffer);
    windowBytes = command.windowBytes;
    send({ type: 'ready' });
  } else if (command.type === 'close') {
    for (const client of channels.values()) client.close();
    if (process.connected) process.disconnect();
  } else {
    (command.type === 'stream' ? runStreams(command) : runUnary(command)).then(send, (error: unknown) => {
      process.stderr.write(`bench client: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
      if (process.connected) process.disconnect();
    });
  }
});
process.on('disconnect', () => {
  for (const client of channels.values()) client.close();
});
send({ type: 'started' });
