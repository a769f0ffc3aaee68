/**
 * The transport floor of slow-start.bench.ts, in a process of its own (forked with the options as
 * JSON in argv[2]): a bare grpc-js server on loopback port 0 that registers ResolveStream at its
 * real path with identity serializers and answers every request batch at once with the same
 * pre-encoded bytes — what the real resolver answered to the paced client's first batch, asked for
 * at start. A second paced client (paced-client.ts) offers it the same load as the resolver's, in
 * the same windows, from the same CPU and priority, while the parent pins this process like the
 * resolver. Its batch latency is what a server that decides nothing gets in that place: the
 * machine's own round trip between two processes on two CPUs (waking an idle virtual CPU
 * included), grpc-js at both ends and the client's wait on its busy CPU.
 */
import { createGeoIpProvider } from '@cdn-sched/geoip';
import * as grpc from '@grpc/grpc-js';
import { rawMethods } from './bench-protocol.js';
import { createServingQueries, encodeBatches } from './bench-workload.js';

/** Options from the parent. */
export interface StreamFloorOptions {
  /** The resolver whose reply to the first batch the floor sends back to every batch. */
  resolverTarget: string;
  batchSize: number;
  /** The paced client's seed, so that the first batch is the client's. */
  seed: number;
}

/** Messages to the parent. */
export type StreamFloorMessage = { type: 'ready'; target: string; replyBytes: number };

const options = JSON.parse(process.argv[2] ?? '{}') as StreamFloorOptions;
const send = (message: StreamFloorMessage): void => void process.send?.(message);

const geo = await createGeoIpProvider();
const first = Buffer.from(encodeBatches(createServingQueries(geo.database, options.seed), options.batchSize)[0]!);
geo.close();

const resolverClient = new grpc.Client(options.resolverTarget, grpc.credentials.createInsecure());
const reply = await new Promise<Buffer>((resolve, reject) => {
  const call = resolverClient.makeBidiStreamRequest(rawMethods.resolveStream.path, (b: Buffer) => b, (b: Buffer) => b);
  call.once('data', (bytes: Buffer) => {
    resolve(bytes);
    call.end();
  });
  call.once('error', reject);
  call.write(first);
});
resolverClient.close();

const server = new grpc.Server();
const stream = rawMethods.resolveStream;
server.register(
  stream.path,
  (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
    call.on('data', () => call.write(reply));
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  },
  stream.responseSerialize,
  stream.requestDeserialize,
  'bidi',
);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);
process.on('disconnect', () => {
  server.forceShutdown();
  process.exit(0);
});
send({ type: 'ready', target: `127.0.0.1:${port}`, replyBytes: reply.length });
