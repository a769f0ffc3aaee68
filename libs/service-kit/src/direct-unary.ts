import { Metadata, ServerInterceptingCall, status as GrpcStatus, type ServerInterceptor, type StatusObject } from '@grpc/grpc-js';
import type { Status } from 'nice-grpc';
import { serviceErrorDetails } from './service-error.js';

/** A refusal of a direct unary call: the status and its details (`<reason>: <message>`, as `ServiceError` sends them). */
export interface DirectStatus {
  readonly code: Status;
  readonly details: string;
}

/** A direct unary call's answer: the response message as the method's serializer takes it, or a status. */
export type DirectAnswer<Res> = { readonly ok: true; readonly response: Res } | ({ readonly ok: false } & DirectStatus);

/**
 * A unary method answered by {@link createDirectUnaryInterceptor} instead of its nice-grpc handler.
 * The request is what the registered method definition's `requestDeserialize` made of the bytes,
 * and the response goes through its `responseSerialize`: the definition stays the one contract.
 */
export interface DirectUnaryMethod<Req, Res> {
  /** The method's path ("/cdn.sched.v1.ResolverService/Resolve"). */
  readonly path: string;
  /** Answers one call, synchronously. The metadata is the request's, after the transport's interceptors (peer identity). */
  answer(request: Req, metadata: Metadata): DirectAnswer<Res>;
}

/**
 * A refusal with the status and details a `ServiceError` of the same reason and message would
 * send (no Error object: no stack captured on the hot path).
 */
export const directRefusal = (code: Status, reason: string, message: string): DirectAnswer<never> => ({ ok: false, code, details: serviceErrorDetails(reason, message) });

/** A status for `sendStatus`. Shared with the direct streaming interceptor. */
export const directStatusObject = (code: number, details: string): StatusObject => ({ code, details, metadata: new Metadata() });
const status = directStatusObject;

/** What grpc-js sends for a handler that throws: UNKNOWN, with no internals for the client. */
const THROWN: DirectAnswer<never> = { ok: false, code: GrpcStatus.UNKNOWN as number as Status, details: 'Unknown error' };

/**
 * A direct method's answer to one request, with a throw answered as grpc-js answers a handler that
 * throws. Shared with the direct streaming interceptor.
 */
export function answerOrUnknown<Req, Res>(method: { answer(request: Req, metadata: Metadata): DirectAnswer<Res> }, request: Req, metadata: Metadata): DirectAnswer<Res> {
  try {
    return method.answer(request, metadata);
  } catch {
    return THROWN;
  }
}

/**
 * A grpc-js server interceptor that answers one unary method itself, for a method whose per-call
 * framework cost matters next to its work: nice-grpc's unary handler spends an AbortController, two
 * metadata maps (and a copy of the request's), three call listeners, an async generator and a
 * promise chain per call, and grpc-js's own unary handler a call stream object. For the resolver's
 * Resolve (a ~1 µs decision) that was ~25 % of the server's CPU per call (docs/benchmarks.md,
 * "Decision path benchmarks", twenty-first session).
 *
 * Interceptors are grpc-js's public extension point around a server call (gRFC L112); an
 * interceptor may answer a call without passing it on, as the peer-identity interceptor does for a
 * caller off the allow-list. This one must come after the transport's interceptors in the server's
 * `interceptors` option (grpc-js wraps the call with each in turn, so the last is the outermost):
 * a caller the peer-identity interceptor refuses never reaches it, since that interceptor does not
 * pass the refused call's metadata on, and the message is only read after the metadata.
 *
 * The call keeps everything grpc-js does below the handler: message-size limits, deadlines,
 * compression, channelz. What it loses is the handler's wrapping: no nice-grpc middleware and no
 * OpenTelemetry gRPC server span (the instrumentation wraps handlers), so a direct method traces
 * itself if it needs to, from the request's `traceparent` metadata.
 */
export function createDirectUnaryInterceptor<Req, Res>(method: DirectUnaryMethod<Req, Res>): ServerInterceptor {
  return (descriptor, call) => {
    // Other methods pass untouched. grpc-js types an interceptor's result as the class, but uses it
    // only through the interface `call` implements; a pass-through wrapper would cost every call.
    if (descriptor.path !== method.path) return call as ServerInterceptingCall;
    let metadata: Metadata | undefined;
    let request: Req | undefined;
    let received = false;
    return new ServerInterceptingCall(call, {
      start(next) {
        // The handler's listener is never passed these events, so the handler never runs: this
        // listener reads the call (grpc-js reads the next message only when asked) and answers it.
        next({
          onReceiveMetadata(m) {
            metadata = m;
            call.startRead();
          },
          onReceiveMessage(message: Req) {
            if (received) {
              call.sendStatus(status(GrpcStatus.UNIMPLEMENTED, `${method.path} is unary: received a second request message`));
              return;
            }
            received = true;
            request = message;
            call.startRead();
          },
          onReceiveHalfClose() {
            if (!received) {
              call.sendStatus(status(GrpcStatus.UNIMPLEMENTED, `${method.path} is unary: received no request message`));
              return;
            }
            const answer = answerOrUnknown(method, request as Req, metadata ?? new Metadata());
            request = undefined;
            if (answer.ok) call.sendMessage(answer.response, () => call.sendStatus(status(GrpcStatus.OK, 'OK')));
            else call.sendStatus(status(answer.code, answer.details));
          },
          onCancel() {
            request = undefined;
          },
        });
      },
    });
  };
}
