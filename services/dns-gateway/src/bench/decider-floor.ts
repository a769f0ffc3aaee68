/**
 * The decision stream's floor for the DNS benchmark: a bare grpc-js server that serves
 * `ResolveStream` at its real path and decides nothing. Every query of a batch is answered with one
 * fixed decision (one A answer, TTL 60, ECS scope /24) under the query's own id, written straight
 * from the request's bytes, so a gateway in front of it pays everything a decided query pays — its
 * batching, the gRPC round trip between two processes, both ends' HTTP/2 and protobuf — except the
 * resolver's work. The p99 a gateway with its cache off gets in front of this is what the decision
 * hop costs on this machine whatever the resolver does.
 *
 * Wire format per proto/cdn/sched/v1/resolver.proto and
 * https://protobuf.dev/programming-guides/encoding/: a `ResolveStreamRequest` is `ResolveRequest`s
 * in field 1, each with its `query_id` in field 1; the reply is a `ResolveStreamResponse` of
 * `Decision`s (field 1), each `query_id` (1) and `response` (2).
 *
 * Run as a child: `node decider-floor.js`; prints `listening <port>` (loopback, port 0).
 */
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { createWireWriter, ResolveResponseSchema, serviceDefinitions } from '@cdn-sched/proto';

/** The one decision every query gets: what a compact decision for the bench's `music` domain looks like. */
const decision = toBinary(
  ResolveResponseSchema,
  create(ResolveResponseSchema, {
    answers: [{ nodeId: 'gd-ct-1', address: '127.0.0.11', ttlS: 60 }],
    ecsScope: 24,
    configVersion: 1n,
    weightsVersion: 1n,
  }),
);

const writer = createWireWriter();

/** The reply to one `ResolveStreamRequest`: the fixed decision under each query's id, in request order. */
function answer(batch: Uint8Array): Uint8Array {
  const reader = new BinaryReader(batch);
  while (reader.pos < reader.len) {
    const [fieldNo, wireType] = reader.tag();
    if (fieldNo !== 1 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, fieldNo);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    let queryId = 0n;
    while (reader.pos < end) {
      const [no, type] = reader.tag();
      if (no === 1 && type === WireType.Varint) queryId = BigInt(reader.uint64());
      else reader.skip(type, no);
    }
    writer.tag(1, WireType.LengthDelimited).fork();
    if (queryId !== 0n) writer.tag(1, WireType.Varint).uint64(queryId);
    writer.tag(2, WireType.LengthDelimited).fork().raw(decision, 0, decision.length).join();
    writer.join();
  }
  return writer.finish();
}

const identity = (bytes: Buffer): Buffer => bytes;
const server = new grpc.Server();
server.register(
  serviceDefinitions.resolver.resolveStream.path,
  (call: grpc.ServerDuplexStream<Buffer, Uint8Array>) => {
    call.on('data', (batch: Buffer) => {
      try {
        call.write(answer(batch));
      } catch (error) {
        call.destroy(error as Error);
      }
    });
    call.on('end', () => call.end());
    call.on('error', () => undefined);
  },
  (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  identity,
  'bidi',
);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);
process.on('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
process.stdout.write(`listening ${port}\n`);
