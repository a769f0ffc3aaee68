/**
 * Drops Node's DEP0123 warning ("Setting the TLS ServerName to an IP address is not permitted by RFC
 * 6066") and nothing else. grpc-js 1.14 passes the target host as the TLS server name even when it
 * is an IP address (grpc-node issue #1919), so every TLS channel to `https://10.0.0.5:2379` or
 * `10.0.0.5:50051` printed it once per process, on stderr of every service and of each `cdnctl`
 * run. It is not actionable there: the server certificate is still verified against the address
 * (its IP subject alternative name), which is the check that matters. Idempotent.
 */
export function quietIpServernameWarning(): void {
  if (installed) return;
  installed = true;
  const emit = process.emitWarning.bind(process);
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]): void => {
    const code = typeof rest[0] === 'object' && rest[0] !== null ? (rest[0] as { code?: string }).code : rest[1];
    if (code === 'DEP0123') return;
    (emit as (w: string | Error, ...r: unknown[]) => void)(warning, ...rest);
  }) as typeof process.emitWarning;
}

let installed = false;
