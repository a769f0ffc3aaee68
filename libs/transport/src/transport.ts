import { isIP } from 'node:net';
import { credentials as grpcCredentials, experimental, ServerCredentials, type ChannelCredentials, type ServerInterceptor } from '@grpc/grpc-js';
import { createChannel, type Channel } from 'nice-grpc';
import { createCertificateFiles, TlsConfigError, type CertificateFiles, type CertificateInfo } from './certificate-files.js';
import { clientChannelOptions, defaultGrpcLimits, serverChannelOptions, type GrpcLimits } from './grpc-limits.js';
import { createPeerIdentityInterceptor } from './peer-identity.js';

/** Certificate files of mutual TLS; all three or none. */
export interface TlsFiles {
  /** CA that signs every peer's certificate (clients verify servers with it, servers clients). */
  caFile: string;
  certFile: string;
  keyFile: string;
  /** How often the files are re-read for a rotation, milliseconds. Defaults to 2 seconds. */
  reloadIntervalMs?: number;
}

/** Options of {@link createTransport}. */
export interface TransportOptions {
  /** Mutual TLS; absent means plaintext (allowed on loopback only, see `checkBind`). */
  tls?: TlsFiles;
  /** Refuse plaintext on a non-loopback address instead of warning. Defaults to false. */
  requireTls?: boolean;
  /** Limits; each unset one takes its default from {@link defaultGrpcLimits}. */
  limits?: Partial<GrpcLimits>;
  /** Client identities allowed on this process's server (see `createPeerIdentityInterceptor`). Defaults to all. */
  allowedClients?: readonly string[];
  /**
   * Host name the clients expect in server certificates, when it is not the host of the target
   * (e.g. dialling 127.0.0.1 with certificates issued for service names). Defaults to the target's.
   */
  serverNameOverride?: string;
  onDenied?(method: string, identities: readonly string[]): void;
  onCertificateReload?(info: CertificateInfo): void;
  onCertificateError?(error: Error): void;
}

/** How one process speaks gRPC: credentials and limits for its server and for every channel it opens. */
export interface Transport {
  readonly secure: boolean;
  readonly limits: Readonly<GrpcLimits>;
  /** The loaded certificate (absent in plaintext). */
  readonly certificate: CertificateInfo | undefined;
  readonly serverCredentials: ServerCredentials;
  /** grpc-js server options: limits plus the peer-identity interceptor. */
  readonly serverOptions: Record<string, unknown> & { interceptors: ServerInterceptor[] };
  readonly channelCredentials: ChannelCredentials;
  readonly channelOptions: Record<string, number | string>;
  /**
   * A channel to `target` (`host:port` or `dns:///name:port`) with this transport's credentials and
   * limits; `serverName` is the name expected in the server's certificate when the target is one
   * address of a name (a replica found through DNS).
   */
  channel(target: string, options?: { serverName?: string }): Channel;
  /**
   * Judges a listen address: returns a warning for plaintext on a non-loopback address, or throws
   * {@link TlsConfigError} for it when `requireTls` is set; undefined when all is well.
   */
  checkBind(host: string): string | undefined;
  /** Stops the certificate reload timer. */
  close(): void;
}

/** Loopback: 127.0.0.0/8, ::1, "localhost". Anything else (0.0.0.0 included) is reachable from outside. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/**
 * Builds the transport of a process from its settings. With `tls`, every server requires and
 * verifies a client certificate signed by the CA, every client verifies the server's and presents
 * its own, and both pick up rotated files without a restart.
 */
export function createTransport(options: TransportOptions = {}): Transport {
  const limits: GrpcLimits = { ...defaultGrpcLimits, ...Object.fromEntries(Object.entries(options.limits ?? {}).filter(([, v]) => v !== undefined)) };
  let files: CertificateFiles | undefined;
  let serverCredentials: ServerCredentials;
  let channelCredentials: ChannelCredentials;
  if (options.tls) {
    files = createCertificateFiles({ ...options.tls, onReload: options.onCertificateReload, onError: options.onCertificateError });
    // The same provider is passed as CA and identity provider: grpc-js 1.14's
    // createCertificateProviderServerCredentials hands its two provider arguments to the
    // constructor in the opposite order, which is harmless only when they are the same object.
    serverCredentials = experimental.createCertificateProviderServerCredentials(files, files, true);
    channelCredentials = experimental.createCertificateProviderChannelCredentials(files, files);
  } else {
    if ((options.allowedClients ?? []).length > 0) {
      throw new TlsConfigError('an allow-list of client identities needs mutual TLS: set TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE');
    }
    serverCredentials = ServerCredentials.createInsecure();
    channelCredentials = grpcCredentials.createInsecure();
  }
  const channelOptions = clientChannelOptions(limits);
  if (options.serverNameOverride) channelOptions['grpc.ssl_target_name_override'] = options.serverNameOverride;
  const interceptor = createPeerIdentityInterceptor({ allowedClients: options.allowedClients ?? [], onDenied: options.onDenied });
  return {
    secure: files !== undefined,
    limits,
    get certificate() {
      return files?.info;
    },
    serverCredentials,
    serverOptions: { ...serverChannelOptions(limits), interceptors: [interceptor] },
    channelCredentials,
    channelOptions,
    channel: (target, o) =>
      createChannel(target, channelCredentials, o?.serverName && files ? { ...channelOptions, 'grpc.ssl_target_name_override': o.serverName, 'grpc.default_authority': o.serverName } : channelOptions),
    checkBind(host) {
      if (files || isLoopbackHost(host)) return undefined;
      const message = `gRPC server on ${host} is plaintext and reachable from other hosts: set TLS_CA_FILE, TLS_CERT_FILE and TLS_KEY_FILE (mutual TLS), or bind to 127.0.0.1`;
      if (options.requireTls) throw new TlsConfigError(`${message} (--require-tls is set)`);
      return message;
    },
    close() {
      files?.close();
    },
  };
}

/** Plaintext with default limits: loopback tests and tools. */
export const plaintextTransport = (): Transport => createTransport();
