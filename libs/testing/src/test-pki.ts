import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Files of one certificate made by {@link createTestPki}. */
export interface TestCert {
  certFile: string;
  keyFile: string;
}

/** Extra subject alternative names of a server certificate. */
export interface TestSan {
  ips?: readonly string[];
  dnsNames?: readonly string[];
}

/** A throwaway certificate authority in a temporary directory, made with the `openssl` CLI. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  /**
   * A server certificate (also good as a client certificate, common name `name`) for 127.0.0.1 /
   * localhost plus `san`'s addresses and host names, signed by the CA.
   */
  server(name: string, san?: TestSan): Promise<TestCert>;
  /**
   * A client certificate with common name `commonName` (etcd maps it to the user of that name when
   * `--client-cert-auth` is on), signed by the CA; `expired` makes one whose validity ended in 2021.
   */
  client(commonName: string, options?: { expired?: boolean }): Promise<TestCert>;
  /** Removes the directory. */
  remove(): Promise<void>;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`openssl ${args[0]} failed: ${e.stderr || e.message}`);
  }
}

/**
 * Makes a CA (EC P-256 keys; `openssl ca` so that validity dates can be set in the past) for TLS
 * tests: real certificates, real handshakes, nothing mocked.
 */
export async function createTestPki(name = 'cdn-sched-test'): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'cdn-sched-pki-'));
  await mkdir(join(dir, 'issued'));
  await writeFile(join(dir, 'index.txt'), '');
  await writeFile(join(dir, 'serial'), '1000\n');
  // Minimal `openssl ca` configuration: copy the request's extensions (SANs), any subject.
  await writeFile(
    join(dir, 'ca.cnf'),
    [
      '[ca]',
      'default_ca = test_ca',
      '[test_ca]',
      `dir = ${dir}`,
      'database = $dir/index.txt',
      'serial = $dir/serial',
      'new_certs_dir = $dir/issued',
      'certificate = $dir/ca.crt',
      'private_key = $dir/ca.key',
      'default_md = sha256',
      'policy = any',
      'copy_extensions = copy',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  await openssl(['req', '-x509', '-new', '-key', 'ca.key', '-subj', `/CN=${name} CA`, '-days', '2', '-out', 'ca.crt'], dir);

  const issue = async (base: string, subject: string, ext: readonly string[], dates: readonly string[]): Promise<TestCert> => {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.key.ec`], dir);
    // PKCS#8: what every TLS stack (Go's, Node's) reads.
    await openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${base}.key.ec`, '-out', `${base}.key`], dir);
    await openssl(['req', '-new', '-key', `${base}.key`, '-subj', subject, ...ext, '-out', `${base}.csr`], dir);
    await openssl(['ca', '-batch', '-config', 'ca.cnf', '-notext', '-in', `${base}.csr`, '-out', `${base}.crt`, ...dates], dir);
    return { certFile: join(dir, `${base}.crt`), keyFile: join(dir, `${base}.key`) };
  };
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    server: (n, san) => {
      const names = ['IP:127.0.0.1', 'DNS:localhost', ...(san?.ips ?? []).map((ip) => `IP:${ip}`), ...(san?.dnsNames ?? []).map((d) => `DNS:${d}`)];
      return issue(`server-${n}`, `/CN=${n}`, ['-addext', `subjectAltName=${names.join(',')}`, '-addext', 'extendedKeyUsage=serverAuth,clientAuth'], ['-days', '2']);
    },
    client: (cn, o) =>
      issue(`client-${cn}${o?.expired ? '-expired' : ''}`, `/CN=${cn}`, ['-addext', 'extendedKeyUsage=clientAuth'], o?.expired ? ['-startdate', '20200101000000Z', '-enddate', '20210101000000Z'] : ['-days', '2']),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
