import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestPki, type TestCert, type TestPki } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from './config.js';
import { etcdConnectionSettings, resolveEtcdConnection, type EtcdConnectionSettings } from './etcd-connection.js';

const settings = (env: Record<string, string>, argv: string[] = []): EtcdConnectionSettings => parseConfig(etcdConnectionSettings, argv, env);

describe('etcd connection settings (certificates made with openssl)', () => {
  let pki: TestPki;
  let client: TestCert;
  let other: TestCert;
  let expired: TestCert;
  beforeAll(async () => {
    pki = await createTestPki();
    client = await pki.client('config-watcher');
    other = await pki.client('prober');
    expired = await pki.client('old', { expired: true });
  }, 60_000);
  afterAll(async () => {
    await pki.remove();
  });

  it('defaults to one local plaintext member', () => {
    expect(resolveEtcdConnection(settings({}))).toEqual({ endpoints: ['http://127.0.0.1:2379'] });
  });

  it('takes every member, normalises ports, reads TLS files and the user, from env or flags', () => {
    const fromEnv = resolveEtcdConnection(
      settings({
        ETCD_ENDPOINTS: 'https://10.0.0.1:2379, https://10.0.0.2,https://[::1]:2381',
        ETCD_CA_FILE: pki.caFile,
        ETCD_CERT_FILE: client.certFile,
        ETCD_KEY_FILE: client.keyFile,
        ETCD_USERNAME: 'cw',
        ETCD_PASSWORD: 's3cret',
      }),
    );
    expect(fromEnv.endpoints).toEqual(['https://10.0.0.1:2379', 'https://10.0.0.2:2379', 'https://[::1]:2381']);
    expect(fromEnv.tls?.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(fromEnv.tls?.cert?.toString()).toContain('BEGIN CERTIFICATE');
    expect(fromEnv.tls?.key?.toString()).toContain('PRIVATE KEY');
    expect(fromEnv.auth).toEqual({ username: 'cw', password: 's3cret' });
    const fromFlags = resolveEtcdConnection(settings({}, ['--etcd-endpoints', 'https://a:1', '--etcd-ca-file', pki.caFile]));
    expect(fromFlags.endpoints).toEqual(['https://a:1']);
    expect(fromFlags.tls?.ca).toBeDefined();
  });

  it('uses the system trust store for https without a CA file', () => {
    expect(resolveEtcdConnection(settings({ ETCD_ENDPOINTS: 'https://etcd.example:2379' }))).toEqual({ endpoints: ['https://etcd.example:2379'], tls: {} });
  });

  it('reads the password from a file, without its trailing newline', async () => {
    const file = join(pki.dir, 'password');
    await writeFile(file, 'from-file\n');
    expect(resolveEtcdConnection(settings({ ETCD_USERNAME: 'u', ETCD_PASSWORD_FILE: file })).auth).toEqual({ username: 'u', password: 'from-file' });
  });

  it.each([
    [{ ETCD_ENDPOINTS: 'http://a:1,https://b:2' }, /^ETCD_ENDPOINTS: mixes http:\/\/ and https:\/\//],
    [{ ETCD_ENDPOINTS: 'grpc://a:1' }, /^ETCD_ENDPOINTS: "grpc:\/\/a:1": scheme must be http:\/\/ or https:\/\//],
    [{ ETCD_ENDPOINTS: 'http://a:1/v3' }, /^ETCD_ENDPOINTS: "http:\/\/a:1\/v3": no path allowed/],
    [{ ETCD_ENDPOINTS: 'http://a:1', ETCD_CA_FILE: '/x' }, /^ETCD_CA_FILE given but ETCD_ENDPOINTS are http:\/\//],
    [{ ETCD_ENDPOINTS: 'https://a:1', ETCD_CA_FILE: '/no/such/ca.pem' }, /^ETCD_CA_FILE=\/no\/such\/ca.pem: cannot read: no such file/],
    [{ ETCD_ENDPOINTS: 'https://a:1', ETCD_KEY_FILE: '/k' }, /^ETCD_KEY_FILE given without ETCD_CERT_FILE/],
    [{ ETCD_ENDPOINTS: 'https://a:1', ETCD_CERT_FILE: '/c' }, /^ETCD_CERT_FILE given without ETCD_KEY_FILE/],
    [{ ETCD_USERNAME: 'u' }, /^ETCD_USERNAME given without ETCD_PASSWORD or ETCD_PASSWORD_FILE/],
    [{ ETCD_PASSWORD: 'p' }, /^ETCD_PASSWORD given without ETCD_USERNAME/],
    [{ ETCD_USERNAME: 'u', ETCD_PASSWORD: 'p', ETCD_PASSWORD_FILE: '/p' }, /^ETCD_PASSWORD and ETCD_PASSWORD_FILE both given/],
    [{ ETCD_USERNAME: 'u', ETCD_PASSWORD_FILE: '/no/such/password' }, /^ETCD_PASSWORD_FILE=\/no\/such\/password: cannot read: no such file/],
  ])('refuses %j, naming the setting', (env, message) => {
    expect(() => resolveEtcdConnection(settings(env))).toThrow(message);
  });

  it('refuses an expired client certificate, a key of another certificate, and files that hold no PEM', () => {
    const https = { ETCD_ENDPOINTS: 'https://a:1' };
    expect(() => resolveEtcdConnection(settings({ ...https, ETCD_CERT_FILE: expired.certFile, ETCD_KEY_FILE: expired.keyFile }))).toThrow(
      /^ETCD_CERT_FILE=.*: the client certificate expired on 2021-01-01T00:00:00.000Z/,
    );
    expect(() => resolveEtcdConnection(settings({ ...https, ETCD_CERT_FILE: client.certFile, ETCD_KEY_FILE: other.keyFile }))).toThrow(
      /^ETCD_KEY_FILE=.*: does not match the certificate in ETCD_CERT_FILE=/,
    );
    expect(() => resolveEtcdConnection(settings({ ...https, ETCD_CA_FILE: client.keyFile }))).toThrow(/^ETCD_CA_FILE=.*: no PEM certificate in the file/);
    expect(() => resolveEtcdConnection(settings({ ...https, ETCD_CERT_FILE: client.certFile, ETCD_KEY_FILE: client.certFile }))).toThrow(/^ETCD_KEY_FILE=.*: not a PEM private key/);
  });
});
