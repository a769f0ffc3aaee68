import { ClientError, ServerError, Status } from 'nice-grpc';

/**
 * The one error type that crosses a gRPC boundary of this project: a gRPC status (what a client's
 * retry logic reads), a stable reason code (what a program or an alert matches: kebab-case, never
 * reworded), a message for a person, and the `cause` kept on the server side for the log.
 *
 * It is a nice-grpc `ServerError`, so a handler just throws it and the status reaches the client
 * without a per-call middleware (the decision path stays free of it). On the wire the details read
 * `<reason>: <message>`; {@link reasonOf} takes the reason back out of a `ClientError`. Errors of
 * any other type thrown by a handler reach the client as UNKNOWN without their message (nice-grpc
 * keeps internals on the server), which is why handlers translate at the edge.
 */
export class ServiceError extends ServerError {
  override readonly name = 'ServiceError';
  /** The stable reason code ("batch-too-large", "not-a-member"). */
  readonly reason: string;
  /** The message without the reason prefix. */
  readonly detail: string;

  constructor(code: Status, reason: string, message: string, options?: { cause?: unknown }) {
    if (!REASON.test(reason)) throw new TypeError(`ServiceError reason "${reason}" is not a kebab-case code`);
    super(code, serviceErrorDetails(reason, message));
    this.reason = reason;
    this.detail = message;
    if (options && 'cause' in options) Object.defineProperty(this, 'cause', { value: options.cause, enumerable: false, writable: true, configurable: true });
  }
}

/** The details a {@link ServiceError} puts on the wire: `<reason>: <message>` (what {@link reasonOf} reads back). */
export const serviceErrorDetails = (reason: string, message: string): string => `${reason}: ${message}`;

const REASON = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
const PREFIX = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)*): /;

/**
 * The stable reason of an error from a gRPC call: the `ServiceError` reason the server sent, or,
 * for a status without one (a server of another project, grpc-js itself), the status name in
 * kebab-case ("unavailable", "deadline-exceeded"). Undefined for errors that are not gRPC errors.
 */
export function reasonOf(error: unknown): string | undefined {
  if (error instanceof ServiceError) return error.reason;
  if (error instanceof ClientError || error instanceof ServerError) {
    const m = PREFIX.exec(error.details);
    return m ? m[1] : statusReason(error.code);
  }
  return undefined;
}

/** A status code as a reason: `Status.RESOURCE_EXHAUSTED` → "resource-exhausted". */
export function statusReason(code: Status): string {
  return (Status[code] ?? 'unknown').toLowerCase().replaceAll('_', '-');
}
