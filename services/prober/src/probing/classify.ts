import { ProbeErrorClass } from '@cdn-sched/proto';

/** Stable name of a probe outcome, as shown in ProbeStatus (`up` for a success). */
export type ProbeClassName =
  | 'up'
  | 'timeout'
  | 'refused'
  | 'reset'
  | 'dns'
  | 'tls'
  | 'http_status'
  | 'bad_body'
  | 'other';

const CLASS_NAMES: Record<ProbeErrorClass, ProbeClassName> = {
  [ProbeErrorClass.UNSPECIFIED]: 'up',
  [ProbeErrorClass.TIMEOUT]: 'timeout',
  [ProbeErrorClass.REFUSED]: 'refused',
  [ProbeErrorClass.RESET]: 'reset',
  [ProbeErrorClass.DNS]: 'dns',
  [ProbeErrorClass.TLS]: 'tls',
  [ProbeErrorClass.HTTP_STATUS]: 'http_status',
  [ProbeErrorClass.BAD_BODY]: 'bad_body',
  [ProbeErrorClass.OTHER]: 'other',
};

/** Every class, in enum order (index = enum value). */
export const PROBE_CLASS_NAMES: readonly ProbeClassName[] = Object.values(ProbeErrorClass)
  .filter((v): v is ProbeErrorClass => typeof v === 'number')
  .sort((a, b) => a - b)
  .map((v) => CLASS_NAMES[v]);

/** Name of a class (`ProbeErrorClass.UNSPECIFIED` is a success: `up`). */
export function probeClassName(errorClass: ProbeErrorClass): ProbeClassName {
  return CLASS_NAMES[errorClass] ?? 'other';
}

/** Error codes of the prober's own failures. */
export type ProbeErrorCode = 'EPROBETIMEOUT' | 'EPROBEABORTED' | 'EBADBODY';

/** A failure the prober itself raises (its timeout, a cancellation, an unusable body). */
export class ProbeError extends Error {
  override readonly name = 'ProbeError';
  constructor(
    readonly code: ProbeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const BY_CODE: Record<string, ProbeErrorClass> = {
  EPROBETIMEOUT: ProbeErrorClass.TIMEOUT,
  ETIMEDOUT: ProbeErrorClass.TIMEOUT,
  UND_ERR_CONNECT_TIMEOUT: ProbeErrorClass.TIMEOUT,
  UND_ERR_HEADERS_TIMEOUT: ProbeErrorClass.TIMEOUT,
  UND_ERR_BODY_TIMEOUT: ProbeErrorClass.TIMEOUT,
  ECONNREFUSED: ProbeErrorClass.REFUSED,
  ECONNRESET: ProbeErrorClass.RESET,
  EPIPE: ProbeErrorClass.RESET,
  ECONNABORTED: ProbeErrorClass.RESET,
  // undici: "other side closed" — the peer closed the connection before a complete response.
  UND_ERR_SOCKET: ProbeErrorClass.RESET,
  ENOTFOUND: ProbeErrorClass.DNS,
  EAI_AGAIN: ProbeErrorClass.DNS,
  EAI_FAIL: ProbeErrorClass.DNS,
  EAI_NODATA: ProbeErrorClass.DNS,
  EAI_NONAME: ProbeErrorClass.DNS,
  EBADBODY: ProbeErrorClass.BAD_BODY,
  UND_ERR_RES_EXCEEDED_MAX_SIZE: ProbeErrorClass.BAD_BODY,
  UND_ERR_RESPONSE_STATUS_CODE: ProbeErrorClass.HTTP_STATUS,
};

// OpenSSL certificate verification codes that Node reports as `err.code` (see `man openssl-verify`).
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|UNABLE_TO_)/;

interface ErrorLike {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
}

function classifyOne(error: ErrorLike): ProbeErrorClass | undefined {
  const code = typeof error.code === 'string' ? error.code : '';
  const known = BY_CODE[code];
  if (known !== undefined) return known;
  if (TLS_CODE.test(code)) return ProbeErrorClass.TLS;
  // AbortSignal.timeout() aborts with a DOMException named TimeoutError.
  if (error.name === 'TimeoutError') return ProbeErrorClass.TIMEOUT;
  if (typeof error.message === 'string' && error.message === 'socket hang up') return ProbeErrorClass.RESET;
  return undefined;
}

/**
 * Maps an error from a probe (Node socket errors, DNS errors, undici errors, the prober's own) to a
 * ProbeErrorClass. Wrappers are looked through (`cause`, up to a few levels: undici and fetch wrap the
 * socket error); anything unknown is `OTHER`. Never throws.
 */
export function classifyError(error: unknown): ProbeErrorClass {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const cls = classifyOne(current as ErrorLike);
    if (cls !== undefined) return cls;
    current = (current as ErrorLike).cause;
  }
  return ProbeErrorClass.OTHER;
}

/** A short, single-line description of an error for `ProbeResult.error_detail`. */
export function describeError(error: unknown): string {
  if (error === null || typeof error !== 'object') return String(error);
  const { code, message } = error as ErrorLike;
  const text = typeof message === 'string' && message !== '' ? message : String(error);
  const line = typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}
