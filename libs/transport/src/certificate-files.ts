import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { experimental } from '@grpc/grpc-js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** Options of {@link createCertificateFiles}. */
export interface CertificateFilesOptions {
  /** PEM file of the CA that signs every peer's certificate. */
  caFile: string;
  /** PEM certificate (chain) of this process. */
  certFile: string;
  /** PEM private key of `certFile`. */
  keyFile: string;
  /** How often the files are read again to pick up a rotation, milliseconds. Defaults to 2 seconds. */
  reloadIntervalMs?: number;
  /** A new set of files was loaded (not called for the first load). */
  onReload?(info: CertificateInfo): void;
  /** A reload failed (unreadable, mismatched key, not PEM); the last good set stays in use. */
  onError?(error: Error): void;
}

/** What was loaded, for logs. */
export interface CertificateInfo {
  subject: string;
  /** The certificate's identities: CN, DNS and URI subject alternative names. */
  identities: string[];
  validTo: string;
}

/** A grpc-js certificate provider over three files, reloaded when they change. */
export interface CertificateFiles extends CertificateProvider {
  readonly info: CertificateInfo;
  /** Stops the reload timer. */
  close(): void;
}

/** A TLS setting a person has to fix; names the file and what is wrong with it. */
export class TlsConfigError extends Error {
  override readonly name = 'TlsConfigError';
}

interface Loaded {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
  info: CertificateInfo;
}

/** The identities a certificate names: its subject CN and its DNS / URI subject alternative names. */
export function certificateIdentities(subjectCn: string | undefined, subjectAltName: string | undefined): string[] {
  const out: string[] = [];
  if (subjectCn) out.push(subjectCn);
  for (const part of (subjectAltName ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(part);
    if (m && !out.includes(m[2]!.trim())) out.push(m[2]!.trim());
  }
  return out;
}

function check(ca: Buffer, cert: Buffer, key: Buffer, options: CertificateFilesOptions): Loaded {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (error) {
    throw new TlsConfigError(`${options.certFile}: not a PEM certificate (${(error as Error).message})`, { cause: error });
  }
  try {
    new X509Certificate(ca);
  } catch (error) {
    throw new TlsConfigError(`${options.caFile}: not a PEM CA certificate (${(error as Error).message})`, { cause: error });
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(key));
  } catch (error) {
    throw new TlsConfigError(`${options.keyFile}: not a PEM private key (${(error as Error).message})`, { cause: error });
  }
  // Caught here rather than by grpc-js: a server handed a mismatched pair refuses every new
  // connection until the next good pair, and a client logs and fails every connect.
  if (!matches) throw new TlsConfigError(`${options.keyFile} is not the private key of ${options.certFile}`);
  createSecureContext({ ca, cert, key });
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return { ca, cert, key, info: { subject: x509.subject.replace(/\n/g, ', '), identities: certificateIdentities(cn, x509.subjectAltName), validTo: x509.validTo } };
}

/**
 * Our own implementation of grpc-js's `CertificateProvider` (the interface its
 * `createCertificateProvider{Server,Channel}Credentials` take) rather than its
 * `FileWatcherCertificateProvider`, which fits less well: it publishes `null` when a read fails
 * (so a file briefly missing during a rotation makes a server drop every new connection), and it
 * publishes a certificate and key read at different moments without checking they belong together.
 * This one reads the files synchronously at start (a bad path fails the start with its name), and
 * on each reload publishes only a complete, matching set that differs from the current one; a bad
 * set is reported and the last good one stays in force. Files are read by path on every reload, so
 * a Kubernetes Secret volume (files are symlinks into a `..data` directory that is swapped
 * atomically) is followed. Open connections keep the certificate they were made with: a rotation
 * changes only the handshakes that follow it.
 */
export function createCertificateFiles(options: CertificateFilesOptions): CertificateFiles {
  const read = (path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new TlsConfigError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
  };
  let current = check(read(options.caFile), read(options.certFile), read(options.keyFile), options);
  const caListeners = new Set<CaListener>();
  const identityListeners = new Set<IdentityListener>();
  let reading = false;

  const reload = async (): Promise<void> => {
    if (reading) return;
    reading = true;
    try {
      const [ca, cert, key] = await Promise.all([readFile(options.caFile), readFile(options.certFile), readFile(options.keyFile)]);
      if (ca.equals(current.ca) && cert.equals(current.cert) && key.equals(current.key)) return;
      // A set caught halfway through a rotation fails the key check and is retried next period.
      current = check(ca, cert, key, options);
      for (const l of caListeners) l({ caCertificate: current.ca });
      for (const l of identityListeners) l({ certificate: current.cert, privateKey: current.key });
      options.onReload?.(current.info);
    } catch (error) {
      options.onError?.(error instanceof Error ? error : new Error(String(error)));
    } finally {
      reading = false;
    }
  };
  const timer = setInterval(() => void reload(), options.reloadIntervalMs ?? 2000);
  timer.unref();

  return {
    get info() {
      return current.info;
    },
    addCaCertificateListener(listener) {
      caListeners.add(listener);
      // grpc-js expects the first update asynchronously, as its own provider does.
      process.nextTick(() => caListeners.has(listener) && listener({ caCertificate: current.ca }));
    },
    removeCaCertificateListener(listener) {
      caListeners.delete(listener);
    },
    addIdentityCertificateListener(listener) {
      identityListeners.add(listener);
      process.nextTick(() => identityListeners.has(listener) && listener({ certificate: current.cert, privateKey: current.key }));
    },
    removeIdentityCertificateListener(listener) {
      identityListeners.delete(listener);
    },
    close() {
      clearInterval(timer);
    },
  };
}
