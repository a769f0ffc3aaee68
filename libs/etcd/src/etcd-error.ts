import { ClientError, Status } from 'nice-grpc';

/** Stable codes of {@link EtcdError}. */
export type EtcdErrorCode = 'UNAVAILABLE' | 'TIMEOUT' | 'COMPACTED' | 'ABORTED' | 'INVALID' | 'LEASE_NOT_FOUND' | 'INTERNAL';

/**
 * The one error type of the etcd boundary: a stable `code`, the gRPC status where there is one, and
 * the original error as `cause`. Translated from grpc-js/nice-grpc errors at the edge.
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
    if (error instanceof ClientError) {
      const details = error.details;
      if (error.code === Status.UNAVAILABLE) return new EtcdError('UNAVAILABLE', `${what}: etcd unavailable: ${details}`, error.code, { cause: error });
      if (error.code === Status.DEADLINE_EXCEEDED) return new EtcdError('TIMEOUT', `${what}: deadline exceeded`, error.code, { cause: error });
      if (error.code === Status.OUT_OF_RANGE && /compacted/.test(details)) return new EtcdError('COMPACTED', `${what}: ${details}`, error.code, { cause: error });
      if (error.code === Status.NOT_FOUND && /lease/.test(details)) return new EtcdError('LEASE_NOT_FOUND', `${what}: ${details}`, error.code, { cause: error });
      if (error.code === Status.INVALID_ARGUMENT) return new EtcdError('INVALID', `${what}: ${details}`, error.code, { cause: error });
      return new EtcdError('INTERNAL', `${what}: ${Status[error.code]} ${details}`, error.code, { cause: error });
    }
    if ((error as { name?: string } | null)?.name === 'AbortError') return new EtcdError('ABORTED', `${what}: aborted`, Status.CANCELLED, { cause: error });
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ETIMEDOUT') return new EtcdError('TIMEOUT', `${what}: timed out`, Status.DEADLINE_EXCEEDED, { cause: error });
    return new EtcdError('INTERNAL', `${what}: ${String((error as Error)?.message ?? error)}`, undefined, { cause: error });
  }
}

/** The watch start revision is below etcd's compaction point: relist. */
export class CompactedError extends EtcdError {
  constructor(readonly compactRevision: number, requested: number) {
    super('COMPACTED', `watch from revision ${requested}: compacted at ${compactRevision}, relist required`);
  }
}
