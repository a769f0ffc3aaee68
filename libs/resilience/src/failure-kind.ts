/**
 * How a failed upstream call counts for a breaker. `connection`: refused, reset, unreachable — the
 * upstream is gone, count it. `slow`: our deadline passed — count it only when the upstream shows no
 * sign of life. `application`: the upstream answered with an error about the request itself
 * (bad argument, not found, compacted) — it is alive, do not count it.
 */
export type FailureKind = 'connection' | 'slow' | 'application';

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * Classifies an error from grpc-js / nice-grpc (numeric `code` = gRPC status), Node sockets (string
 * `code`) or opossum (`ETIMEDOUT`). gRPC status codes: https://grpc.github.io/grpc/core/md_doc_statuscodes.html
 */
export function classifyFailure(error: unknown): FailureKind {
  const e = error as { code?: unknown; grpcCode?: unknown } | null;
  // Boundary errors (EtcdError) carry a stable string code and the gRPC status as `grpcCode`.
  const code = typeof e?.grpcCode === 'number' ? e.grpcCode : e?.code;
  if (typeof code === 'string') {
    if (code === 'ETIMEDOUT' || code === 'TIMEOUT') return 'slow';
    if (code === 'UNAVAILABLE') return 'connection';
    if (CONNECTION_CODES.has(code)) return 'connection';
    return 'application';
  }
  if (typeof code === 'number') {
    // 14 UNAVAILABLE (refused/reset/unreachable), 8 RESOURCE_EXHAUSTED, 13 INTERNAL (broken stream)
    if (code === 14 || code === 13 || code === 8) return 'connection';
    // 4 DEADLINE_EXCEEDED, 1 CANCELLED by our own deadline
    if (code === 4) return 'slow';
    return 'application';
  }
  return 'connection';
}
