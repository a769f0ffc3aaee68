import { Metadata, ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor, type StatusObject } from '@grpc/grpc-js';
import { answerOrUnknown, directStatusObject as status, type DirectAnswer } from './direct-unary.js';

/**
 * A bidirectional-streaming method answered by {@link createDirectStreamInterceptor} instead of its
 * nice-grpc handler: one response message per request message, in order. As for a direct unary
 * method, the request is what the registered definition's `requestDeserialize` made of the bytes and
 * the response goes through its `responseSerialize`.
 */
export interface DirectStreamMethod<Req, Res> {
  /** The method's path ("/cdn.sched.v1.ResolverService/ResolveStream"). */
  readonly path: string;
  /**
   * Answers one request message, synchronously: its response, or a status that ends the call (the
   * messages already answered stay sent). The metadata is the call's, after the transport's
   * interceptors.
   */
  answer(request: Req, metadata: Metadata): DirectAnswer<Res>;
}

/**
 * Responses a call may have in grpc-js's send queue before the interceptor reads the next request:
 * the call's read-ahead, and what a client that stops reading can make the server hold per call.
 */
const MAX_IN_FLIGHT = 4;

/**
 * A grpc-js server interceptor that answers one bidirectional-streaming method itself, message by
 * message, for a stream whose per-message framework cost matters next to its work. nice-grpc's
 * streaming handler turns the call into a Node `Readable`, an async iterator and an async generator,
 * with a promise per message each way; grpc-js's own handler a `Duplex`. For the resolver's
 * ResolveStream that was ~5 % of its JavaScript thread's busy time at batches of 100; answered here,
 * a real resolver process serves 1–8 % more decisions per CPU-second (docs/benchmarks.md, "Decision
 * path benchmarks", twenty-fourth session).
 *
 * Flow control: the next request is read (grpc-js reads a message only when asked) while fewer than
 * {@link MAX_IN_FLIGHT} responses wait to be written, so a client that sends faster than it reads
 * is slowed down by HTTP/2 flow control rather than buffered here. The half-close arrives in order
 * after the last request; the call ends with OK once every response is written.
 *
 * Place it as {@link createDirectUnaryInterceptor} is placed: after the transport's interceptors, so
 * a caller the peer-identity check refuses never reaches it. The call keeps grpc-js's message-size
 * limits, deadlines and cancellation; it loses nice-grpc middleware and the OpenTelemetry gRPC
 * server span, so the method traces itself.
 */
export function createDirectStreamInterceptor<Req, Res>(method: DirectStreamMethod<Req, Res>): ServerInterceptor {
  return (descriptor, call) => {
    if (descriptor.path !== method.path) return call as ServerInterceptingCall;
    let metadata = new Metadata();
    let inFlight = 0;
    let reading = false;
    let halfClosed = false;
    let ended = false;
    const end = (result: StatusObject): void => {
      if (ended) return;
      ended = true;
      call.sendStatus(result);
    };
    const readNext = (): void => {
      if (reading || ended || halfClosed || inFlight >= MAX_IN_FLIGHT) return;
      reading = true;
      call.startRead();
    };
    const onSent = (): void => {
      inFlight--;
      if (halfClosed && inFlight === 0) end(status(GrpcStatus.OK, 'OK'));
      else readNext();
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        // As for a direct unary call: the handler's listener never gets these events, so the
        // handler never runs.
        next({
          onReceiveMetadata(m) {
            metadata = m;
            readNext();
          },
          onReceiveMessage(message: Req) {
            reading = false;
            if (ended) return;
            const answer = answerOrUnknown(method, message, metadata);
            if (!answer.ok) {
              end(status(answer.code, answer.details));
              return;
            }
            inFlight++;
            call.sendMessage(answer.response, onSent);
            readNext();
          },
          onReceiveHalfClose() {
            reading = false;
            halfClosed = true;
            if (inFlight === 0) end(status(GrpcStatus.OK, 'OK'));
          },
          onCancel() {
            ended = true;
          },
        });
      },
    });
  };
}
