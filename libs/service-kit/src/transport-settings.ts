import { createTransport, defaultGrpcLimits, type Transport } from '@cdn-sched/transport';
import { ConfigError, type ConfigOf, type SettingSpec } from './config.js';

const d = defaultGrpcLimits;

/**
 * Transport security and limits of every gRPC server and client of a service (part of
 * {@link grpcSettings}). Mutual TLS is on when the three files are given.
 */
export const transportSettings = {
  tlsCaFile: { type: 'string', env: 'TLS_CA_FILE', flag: 'tls-ca-file', default: '', description: 'PEM CA that signs every service certificate; with TLS_CERT_FILE and TLS_KEY_FILE turns on mutual TLS on the gRPC server and every gRPC client' },
  tlsCertFile: { type: 'string', env: 'TLS_CERT_FILE', flag: 'tls-cert-file', default: '', description: 'PEM certificate of this service (its CN / DNS SAN is its identity toward other services)' },
  tlsKeyFile: { type: 'string', env: 'TLS_KEY_FILE', flag: 'tls-key-file', default: '', description: 'PEM private key of TLS_CERT_FILE' },
  tlsReloadIntervalMs: { type: 'int', env: 'TLS_RELOAD_INTERVAL_MS', flag: 'tls-reload-interval-ms', default: 2000, min: 100, description: 'how often the certificate files are re-read to pick up a rotation, milliseconds' },
  tlsServerName: { type: 'string', env: 'TLS_SERVER_NAME', flag: 'tls-server-name', default: '', description: 'host name expected in the certificates of the servers this service dials; empty = the host of each address' },
  requireTls: { type: 'bool', env: 'REQUIRE_TLS', flag: 'require-tls', default: false, description: 'refuse to start with a plaintext gRPC server on a non-loopback address (otherwise a warning is logged)' },
  grpcAllowedClients: { type: 'list', env: 'GRPC_ALLOWED_CLIENTS', flag: 'grpc-allowed-clients', default: [], description: 'client certificate identities (CN or SAN; "prober-*" matches a prefix) allowed to call this service, comma-separated; empty = any client with a certificate from the CA. Needs mutual TLS' },
  grpcMaxReceiveBytes: { type: 'int', env: 'GRPC_MAX_RECEIVE_BYTES', flag: 'grpc-max-receive-bytes', default: d.maxReceiveMessageBytes, min: 1024, description: 'largest gRPC message accepted, bytes' },
  grpcMaxSendBytes: { type: 'int', env: 'GRPC_MAX_SEND_BYTES', flag: 'grpc-max-send-bytes', default: d.maxSendMessageBytes, min: 1024, description: 'largest gRPC message sent, bytes' },
  grpcMaxConcurrentStreams: { type: 'int', env: 'GRPC_MAX_CONCURRENT_STREAMS', flag: 'grpc-max-concurrent-streams', default: d.maxConcurrentStreams, min: 1, description: 'concurrent calls per client connection' },
  grpcMaxConnectionAgeMs: { type: 'int', env: 'GRPC_MAX_CONNECTION_AGE_MS', flag: 'grpc-max-connection-age-ms', default: d.maxConnectionAgeMs, min: 1000, description: 'connections older than this are asked to reconnect (GOAWAY, ±10 % jitter), so clients spread over new replicas, milliseconds' },
  grpcMaxConnectionAgeGraceMs: { type: 'int', env: 'GRPC_MAX_CONNECTION_AGE_GRACE_MS', flag: 'grpc-max-connection-age-grace-ms', default: d.maxConnectionAgeGraceMs, min: 0, description: 'time open calls get after that GOAWAY before the connection closes, milliseconds' },
  grpcKeepaliveTimeMs: { type: 'int', env: 'GRPC_KEEPALIVE_TIME_MS', flag: 'grpc-keepalive-time-ms', default: d.keepaliveTimeMs, min: 1000, description: 'keepalive ping period of idle connections (servers and clients), milliseconds' },
} as const satisfies Record<string, SettingSpec>;

/** Hooks of {@link transportFromConfig}. */
export interface TransportHooks {
  log?(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
  onDenied?(method: string, identities: readonly string[]): void;
}

/** Builds the process's transport from its settings; a partial TLS setting is a ConfigError. */
export function transportFromConfig(config: ConfigOf<typeof transportSettings>, hooks: TransportHooks = {}): Transport {
  const files = [config.tlsCaFile, config.tlsCertFile, config.tlsKeyFile];
  if (files.some(Boolean) && !files.every(Boolean)) {
    throw new ConfigError('mutual TLS needs all of TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE (--tls-ca-file, --tls-cert-file, --tls-key-file)');
  }
  const transport = createTransport({
    tls: config.tlsCaFile ? { caFile: config.tlsCaFile, certFile: config.tlsCertFile, keyFile: config.tlsKeyFile, reloadIntervalMs: config.tlsReloadIntervalMs } : undefined,
    requireTls: config.requireTls,
    allowedClients: config.grpcAllowedClients,
    serverNameOverride: config.tlsServerName || undefined,
    limits: {
      maxReceiveMessageBytes: config.grpcMaxReceiveBytes,
      maxSendMessageBytes: config.grpcMaxSendBytes,
      maxConcurrentStreams: config.grpcMaxConcurrentStreams,
      maxConnectionAgeMs: config.grpcMaxConnectionAgeMs,
      maxConnectionAgeGraceMs: config.grpcMaxConnectionAgeGraceMs,
      keepaliveTimeMs: config.grpcKeepaliveTimeMs,
    },
    onDenied: hooks.onDenied,
    onCertificateReload: (info) => hooks.log?.('info', 'TLS certificate reloaded', { ...info }),
    onCertificateError: (error) => hooks.log?.('error', 'TLS certificate reload failed; the previous certificate stays in use', { error: error.message }),
  });
  if (transport.certificate) hooks.log?.('info', 'mutual TLS on', { ...transport.certificate });
  return transport;
}
