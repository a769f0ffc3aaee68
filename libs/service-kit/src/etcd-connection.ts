import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, type SettingSpec } from './config.js';

/**
 * How every service and cdnctl reach etcd: the members, TLS material and user. Same names
 * everywhere; each is an environment variable and a flag.
 */
export const etcdConnectionSettings = {
  etcdEndpoints: { type: 'list', env: 'ETCD_ENDPOINTS', flag: 'etcd-endpoints', default: ['http://127.0.0.1:2379'], description: 'etcd client URLs of the cluster members, comma-separated, all http:// or all https://' },
  etcdCaFile: { type: 'string', env: 'ETCD_CA_FILE', flag: 'etcd-ca-file', default: '', description: "PEM CA bundle that signed etcd's server certificates (https only; default: the system trust store)" },
  etcdCertFile: { type: 'string', env: 'ETCD_CERT_FILE', flag: 'etcd-cert-file', default: '', description: "PEM client certificate for etcd's --client-cert-auth (https only; needs ETCD_KEY_FILE)" },
  etcdKeyFile: { type: 'string', env: 'ETCD_KEY_FILE', flag: 'etcd-key-file', default: '', description: 'PEM private key of ETCD_CERT_FILE' },
  etcdUsername: { type: 'string', env: 'ETCD_USERNAME', flag: 'etcd-username', default: '', description: 'etcd user (etcd auth enabled); needs ETCD_PASSWORD or ETCD_PASSWORD_FILE' },
  etcdPassword: { type: 'string', env: 'ETCD_PASSWORD', flag: 'etcd-password', default: '', description: 'password of ETCD_USERNAME (prefer ETCD_PASSWORD_FILE: flags and env leak into ps and logs)' },
  etcdPasswordFile: { type: 'string', env: 'ETCD_PASSWORD_FILE', flag: 'etcd-password-file', default: '', description: 'file holding the password of ETCD_USERNAME (one line; a trailing newline is ignored)' },
} as const satisfies Record<string, SettingSpec>;

/** The raw values of {@link etcdConnectionSettings}. */
export interface EtcdConnectionSettings {
  etcdEndpoints: readonly string[];
  etcdCaFile: string;
  etcdCertFile: string;
  etcdKeyFile: string;
  etcdUsername: string;
  etcdPassword: string;
  etcdPasswordFile: string;
}

/** What `createEtcdClient` takes (libs/etcd `EtcdClientOptions`), checked and with files read. */
export interface EtcdConnection {
  endpoints: string[];
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
}

function readSetting(setting: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new ConfigError(`${setting}=${path}: cannot read: ${why}`);
  }
}

function certificates(setting: string, path: string, pem: Buffer): X509Certificate[] {
  const blocks = pem.toString('utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${setting}=${path}: no PEM certificate in the file`);
  return blocks.map((b) => {
    try {
      return new X509Certificate(b);
    } catch (error) {
      throw new ConfigError(`${setting}=${path}: not a valid certificate: ${(error as Error).message}`);
    }
  });
}

/**
 * Checks the etcd connection settings and reads their files. Every problem is a {@link ConfigError}
 * naming the setting: a mix of http:// and https:// members; TLS files with plaintext members
 * (they would be silently ignored); a missing or unreadable file; a file that holds no certificate
 * or key; a client certificate without its key or the reverse, or one that has expired or does not
 * match its key; a user without a password, or two sources of the password. `now` is for tests.
 */
export function resolveEtcdConnection(s: EtcdConnectionSettings, now: Date = new Date()): EtcdConnection {
  const endpoints: string[] = [];
  for (const raw of s.etcdEndpoints) {
    const withScheme = raw.includes('://') ? raw : `http://${raw}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new ConfigError(`ETCD_ENDPOINTS: "${raw}" is not a URL (expected http://host:port or https://host:port)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`ETCD_ENDPOINTS: "${raw}": scheme must be http:// or https://`);
    if (url.pathname !== '/' && url.pathname !== '') throw new ConfigError(`ETCD_ENDPOINTS: "${raw}": no path allowed (etcd's gRPC API lives at the root)`);
    // URL keeps an IPv6 host in brackets already.
    endpoints.push(`${url.protocol}//${url.hostname}:${url.port || '2379'}`);
  }
  if (endpoints.length === 0) throw new ConfigError('ETCD_ENDPOINTS: no endpoint given (e.g. http://127.0.0.1:2379)');
  const secure = endpoints.filter((e) => e.startsWith('https:')).length;
  if (secure > 0 && secure < endpoints.length) throw new ConfigError('ETCD_ENDPOINTS: mixes http:// and https:// members; one cluster speaks one of them');
  const tlsFiles = (['etcdCaFile', 'etcdCertFile', 'etcdKeyFile'] as const).filter((k) => s[k]);
  if (secure === 0 && tlsFiles.length > 0) {
    const names = tlsFiles.map((k) => etcdConnectionSettings[k].env).join(', ');
    throw new ConfigError(`${names} given but ETCD_ENDPOINTS are http://: TLS files would be ignored; use https:// endpoints`);
  }
  if (s.etcdKeyFile && !s.etcdCertFile) throw new ConfigError('ETCD_KEY_FILE given without ETCD_CERT_FILE: a client key needs its certificate');
  if (s.etcdCertFile && !s.etcdKeyFile) throw new ConfigError('ETCD_CERT_FILE given without ETCD_KEY_FILE: a client certificate needs its private key');

  let tls: EtcdConnection['tls'];
  if (secure > 0) {
    tls = {};
    if (s.etcdCaFile) {
      tls.ca = readSetting('ETCD_CA_FILE', s.etcdCaFile);
      certificates('ETCD_CA_FILE', s.etcdCaFile, tls.ca);
    }
    if (s.etcdCertFile) {
      tls.cert = readSetting('ETCD_CERT_FILE', s.etcdCertFile);
      tls.key = readSetting('ETCD_KEY_FILE', s.etcdKeyFile);
      const [leaf] = certificates('ETCD_CERT_FILE', s.etcdCertFile, tls.cert);
      if (new Date(leaf!.validTo) < now) throw new ConfigError(`ETCD_CERT_FILE=${s.etcdCertFile}: the client certificate expired on ${new Date(leaf!.validTo).toISOString()}`);
      if (new Date(leaf!.validFrom) > now) throw new ConfigError(`ETCD_CERT_FILE=${s.etcdCertFile}: the client certificate is not valid before ${new Date(leaf!.validFrom).toISOString()}`);
      let key;
      try {
        key = createPrivateKey(tls.key);
      } catch (error) {
        throw new ConfigError(`ETCD_KEY_FILE=${s.etcdKeyFile}: not a PEM private key: ${(error as Error).message}`);
      }
      if (!leaf!.checkPrivateKey(key)) throw new ConfigError(`ETCD_KEY_FILE=${s.etcdKeyFile}: does not match the certificate in ETCD_CERT_FILE=${s.etcdCertFile}`);
    }
  }

  let auth: EtcdConnection['auth'];
  if (s.etcdPassword && s.etcdPasswordFile) throw new ConfigError('ETCD_PASSWORD and ETCD_PASSWORD_FILE both given; use one');
  if (s.etcdUsername) {
    const password = s.etcdPasswordFile ? readSetting('ETCD_PASSWORD_FILE', s.etcdPasswordFile).toString('utf8').replace(/\r?\n$/, '') : s.etcdPassword;
    if (!password) throw new ConfigError('ETCD_USERNAME given without ETCD_PASSWORD or ETCD_PASSWORD_FILE');
    auth = { username: s.etcdUsername, password };
  } else if (s.etcdPassword || s.etcdPasswordFile) {
    throw new ConfigError(`${s.etcdPassword ? 'ETCD_PASSWORD' : 'ETCD_PASSWORD_FILE'} given without ETCD_USERNAME`);
  }
  return { endpoints, ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
}
