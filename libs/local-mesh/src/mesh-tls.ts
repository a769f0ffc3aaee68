import { createThrowawayPki, createTransport, type IssuedCertificate, type Transport } from '@cdn-sched/transport';

/** Identity (certificate CN) of the mesh's own client, and of cdnctl run against the mesh. */
export const MESH_CLIENT_IDENTITY = 'cdnctl';

/**
 * Host name every mesh certificate carries and every mesh client expects: the services are dialled
 * at 127.0.0.1, and TLS's server name indication may not be an IP address (RFC 6066 §3).
 */
export const MESH_SERVER_NAME = 'localhost';

/** Mutual TLS of a local mesh: a throwaway CA and one certificate per service instance. */
export interface MeshTls {
  /** Directory of the CA and every issued certificate and key. */
  readonly dir: string;
  readonly caFile: string;
  /** Certificate of the mesh's own client (and of cdnctl), identity {@link MESH_CLIENT_IDENTITY}. */
  readonly client: IssuedCertificate;
  /** Transport of the mesh's own calls (Status, the live replay), with the client certificate. */
  readonly transport: Transport;
  /**
   * `TLS_CA_FILE`, `TLS_CERT_FILE`, `TLS_KEY_FILE` and `TLS_SERVER_NAME` of service instance `name`, issuing its
   * certificate (CN = `name`, the identity a prober's reports are checked against) on first use.
   */
  envOf(name: string): Record<string, string>;
  /** Stops the client transport's reload timer (the files stay for the caller to remove). */
  close(): void;
}

/**
 * Makes a throwaway CA in `dir` (with the `openssl` command) for a mesh whose every gRPC hop is
 * mutual TLS. Each instance gets its own certificate named after it, so identity checks (a prober's
 * reports under its own id only, allow-lists) see the same names as in a real deployment.
 */
export function createMeshTls(dir: string): MeshTls {
  const pki = createThrowawayPki(dir, 'cdn-sched local mesh CA');
  const issued = new Map<string, IssuedCertificate>();
  const certificateOf = (name: string): IssuedCertificate => {
    let files = issued.get(name);
    if (!files) {
      files = pki.issue(name);
      issued.set(name, files);
    }
    return files;
  };
  const client = certificateOf(MESH_CLIENT_IDENTITY);
  const transport = createTransport({ tls: { caFile: pki.caFile, ...client }, serverNameOverride: MESH_SERVER_NAME });
  return {
    dir,
    caFile: pki.caFile,
    client,
    transport,
    envOf(name) {
      const files = certificateOf(name);
      return { TLS_CA_FILE: pki.caFile, TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile, TLS_SERVER_NAME: MESH_SERVER_NAME };
    },
    close: () => transport.close(),
  };
}
