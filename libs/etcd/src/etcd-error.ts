import {
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCInternalError,
  GRPCInvalidArgumentError,
  GRPCOutOfRangeError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  GRPCUnavailableError,
} from 'etcd3';

/** Stable codes of {@link EtcdError}. */
export type EtcdErrorCode =
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'COMPACTED'
  | 'ABORTED'
  | 'INVALID'
  | 'LEASE_NOT_FOUND'
  | 'PERMISSION_DENIED'
  | 'AUTH_FAILED'
  | 'TLS'
  | 'INTERNAL';

/** gRPC status numbers (grpc/doc/statuscodes.md), kept so breakers can classify failures. */
const GRPC = { CANCELLED: 1, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, OUT_OF_RANGE: 11, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/** grpc-js's words for a TLS handshake failure; `etcd3` passes them through in the message. */
const TLS_FAILURE = /certificate|SSL|TLS|handshake|self[- ]signed|CERT_|unable to verify/i;

/**
 * The one error type of the etcd boundary: a stable `code`, the gRPC status where there is one, and
 * the original error as `cause`. Translated from the `etcd3` client's typed errors at the edge.
 */
export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  constructor(
    readonly code: EtcdErrorCode,
    message: string,
    readonly grpcCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Translates anything thrown by a call to etcd. */
  static from(error: unknown, what: string): EtcdError {
    if (error instanceof EtcdError) return error;
    const message = String((error as Error | null)?.message ?? error);
    const o = { cause: error };
    if ((error as { name?: string } | null)?.name === 'AbortError') return new EtcdError('ABORTED', `${what}: aborted`, GRPC.CANCELLED, o);
    if (error instanceof EtcdAuthenticationFailedError) {
      return new EtcdError('AUTH_FAILED', `${what}: etcd refused the user name or password (ETCD_USERNAME / ETCD_PASSWORD): ${message}`, GRPC.INVALID_ARGUMENT, o);
    }
    if (error instanceof EtcdPermissionDeniedError || error instanceof EtcdInvalidAuthTokenError || error instanceof GRPCUnauthenticatedError) {
      return new EtcdError('PERMISSION_DENIED', `${what}: permission denied by etcd (the etcd user's role does not allow this): ${message}`, GRPC.PERMISSION_DENIED, o);
    }
    // cockatiel's BrokenCircuitError (etcd3's per-member breakers): every member failed recently
    // and none is tried again before its breaker half-opens. A connection failure to the caller.
    if ((error as { isBrokenCircuitError?: boolean } | null)?.isBrokenCircuitError === true) {
      return new EtcdError('UNAVAILABLE', `${what}: etcd unavailable: every member failed recently (${message})`, GRPC.UNAVAILABLE, o);
    }
    if (error instanceof EtcdLeaseInvalidError) return new EtcdError('LEASE_NOT_FOUND', `${what}: ${message}`, GRPC.NOT_FOUND, o);
    if (error instanceof GRPCUnavailableError) {
      if (TLS_FAILURE.test(message)) return new EtcdError('TLS', `${what}: TLS handshake with etcd failed (check ETCD_CA_FILE, ETCD_CERT_FILE, ETCD_KEY_FILE): ${message}`, GRPC.UNAVAILABLE, o);
      return new EtcdError('UNAVAILABLE', `${what}: etcd unavailable: ${message}`, GRPC.UNAVAILABLE, o);
    }
    if (error instanceof GRPCDeadlineExceededError) return new EtcdError('TIMEOUT', `${what}: deadline exceeded`, GRPC.DEADLINE_EXCEEDED, o);
    if (error instanceof GRPCOutOfRangeError && /compacted/.test(message)) return new EtcdError('COMPACTED', `${what}: ${message}`, GRPC.OUT_OF_RANGE, o);
    if (error instanceof GRPCInvalidArgumentError) return new EtcdError('INVALID', `${what}: ${message}`, GRPC.INVALID_ARGUMENT, o);
    if (error instanceof GRPCCancelledError) return new EtcdError('ABORTED', `${what}: ${message}`, GRPC.CANCELLED, o);
    if (error instanceof GRPCResourceExhastedError) return new EtcdError('UNAVAILABLE', `${what}: ${message}`, GRPC.RESOURCE_EXHAUSTED, o);
    if (error instanceof GRPCInternalError) return new EtcdError('INTERNAL', `${what}: ${message}`, GRPC.INTERNAL, o);
    if (/etcdserver: (no leader|leader changed|request timed out)/.test(message)) return new EtcdError('UNAVAILABLE', `${what}: ${message}`, GRPC.UNAVAILABLE, o);
    if (/etcdserver: permission denied/.test(message)) return new EtcdError('PERMISSION_DENIED', `${what}: permission denied by etcd (the etcd user's role does not allow this)`, GRPC.PERMISSION_DENIED, o);
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ETIMEDOUT') return new EtcdError('TIMEOUT', `${what}: timed out`, GRPC.DEADLINE_EXCEEDED, o);
    return new EtcdError('INTERNAL', `${what}: ${message}`, undefined, o);
  }
}

/** The watch start revision is below etcd's compaction point: relist. */
export class CompactedError extends EtcdError {
  constructor(readonly compactRevision: number, requested: number) {
    super('COMPACTED', `watch from revision ${requested}: compacted at ${compactRevision}, relist required`);
  }
}
