/**
 * The transport floor of slow-start.bench.ts, in a process of its own (forked with the options as
 * JSON in argv[2]): a bare grpc-js server on loopback port 0 that registers ResolveStream at its
 * real path with identity serializers (bench-protocol.ts `rawMethods`) and decides nothing. The
 * first batch it is sent goes once to the real resolver; the resolver's reply, kept as bytes, then
 * answers every batch, so the floor puts as many bytes on the wire as the resolver does. A second
 * paced client (paced-client.ts) offers it the same load as the resolver's, in the same windows,
 * from the same CPU and priority, while the parent pins this process like the resolver (the first
 * batch goes out in the warm-up, before any window). Its batch latency is what a server that
 * decides nothing gets in that place: the machine's own round trip between two processes on two
 * CPUs (waking an idle virtual CPU included), grpc-js at both ends and the client's wait on its
 * busy CPU.
 */
import * as grpc from '@grpc/grpc-js';
import { rawMethods } from './bench-protocol.js';

/** Options from the parent. */
export interface StreamFloorOptions {
  /** The resolver whose reply to the first batch the floor sends back to every batch. */
  resolverTarget: string;
}

/** Messages to the parent. */
export type StreamFloorMessage = { type: 'ready'; target: string };

const options = JSON.parse(process.argv[2] ?? '{}') as StreamFloorOptions;
const send = (message: StreamFloorMessage): void => void process.send?.(message);

/** The resolver's reply to `batch`, asked for on a stream of its own. */
function resolverReply(batch: Buffer): Promise<Buffer> {
  const client = new grpc.Client(options.resolverTarget, grpc.credentials.createInsecure());
  const stream = rawMethods.resolveStream;
  const call = client.makeBidiStreamRequest(stream.path, stream.requestSerialize, stream.responseDeserialize);
  return new Promise<Buffer>((resolve, reject) => {
    call.once('data', resolve);
    call.once('error', reject);
    call.write(batch);
  }).finally(() => {
    call.end();
    client.close();
  });
}

// Set by the first batch; every batch is answered from it, in arrival order (the callbacks of one
// promise run in the order they were added).
let reply: Promise<Buffer> | undefined;
const server = new grpc.Server();
server.addService(rawMethods, {
  resolveStream(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
    call.on('data', (batch: Buffer) => {
      reply ??= resolverReply(batch);
      void reply.then(
        (bytes) => call.write(bytes),
        (error: Error) => call.emit('error', { code: grpc.status.UNAVAILABLE, details: `the resolver's reply to the first batch: ${error.message}` }),
      );
    });
    call.on('end', () => call.end());
  },
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);
process.on('disconnect', () => {
  server.forceShutdown();
  process.exit(0);
});
send({ type: 'ready', target: `127.0.0.1:${port}` });
