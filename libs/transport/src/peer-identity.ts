import { Metadata as GrpcMetadata, ResponderBuilder, ServerInterceptingCall, ServerListenerBuilder, status, type ServerInterceptor } from '@grpc/grpc-js';
import { certificateIdentities } from './certificate-files.js';

/**
 * Metadata key under which the server hands the verified identities of the caller's certificate to
 * the handlers. Whatever a client sends under this key is removed first, so a handler can trust it.
 */
export const PEER_IDENTITY_KEY = 'x-cdn-peer-identity';

/**
 * Reads the caller's verified certificate identities (empty without mTLS) from call metadata: a
 * nice-grpc handler's (`getAll`) or grpc-js's, as a direct unary method gets it (`get`).
 */
export function peerIdentities(metadata: { getAll(key: string): unknown[] } | GrpcMetadata): string[] {
  const values = metadata instanceof GrpcMetadata ? metadata.get(PEER_IDENTITY_KEY) : metadata.getAll(PEER_IDENTITY_KEY);
  return values.flatMap((v) => String(v).split(',')).filter(Boolean);
}

/**
 * True when `identity` matches `pattern`: equal, or `pattern` ends with `*` and `identity` starts
 * with what comes before it ("prober-*").
 */
export function identityMatches(pattern: string, identity: string): boolean {
  return pattern.endsWith('*') ? identity.startsWith(pattern.slice(0, -1)) : pattern === identity;
}

/** Options of {@link createPeerIdentityInterceptor}. */
export interface PeerIdentityOptions {
  /**
   * Client identities (certificate CN or DNS/URI SAN; `*` suffix as a prefix wildcard) allowed to
   * call anything but `grpc.health.v1`; empty allows every caller the TLS layer accepted.
   */
  allowedClients: readonly string[];
  /** Called for each call refused by the allow-list (for a metric). */
  onDenied?(method: string, identities: readonly string[]): void;
}

/**
 * A grpc-js server interceptor that (1) strips any client-sent {@link PEER_IDENTITY_KEY}, (2) sets it
 * to the identities of the client certificate that the TLS handshake verified, and (3) refuses with
 * PERMISSION_DENIED a caller not on the allow-list. Health checks stay open to every caller the
 * TLS layer accepted, as load balancers need them.
 */
export function createPeerIdentityInterceptor(options: PeerIdentityOptions): ServerInterceptor {
  return (methodDescriptor, call) => {
    const auth = call.getAuthContext();
    const cert = auth.sslPeerCertificate;
    const identities = cert ? certificateIdentities(typeof cert.subject?.CN === 'string' ? cert.subject.CN : undefined, cert.subjectaltname) : [];
    const open = methodDescriptor.path.startsWith('/grpc.health.v1.');
    const allowed = open || options.allowedClients.length === 0 || identities.some((id) => options.allowedClients.some((p) => identityMatches(p, id)));
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata: GrpcMetadata, next) => {
        metadata.remove(PEER_IDENTITY_KEY);
        if (identities.length > 0) metadata.set(PEER_IDENTITY_KEY, identities.join(','));
        if (allowed) {
          next(metadata);
          return;
        }
        options.onDenied?.(methodDescriptor.path, identities);
        call.sendStatus({
          code: status.PERMISSION_DENIED,
          details: identities.length === 0 ? `${methodDescriptor.path}: this server accepts only callers with an allowed client certificate` : `${methodDescriptor.path}: client ${identities.join(', ')} is not on this service's allow-list`,
          metadata: new GrpcMetadata(),
        });
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}
