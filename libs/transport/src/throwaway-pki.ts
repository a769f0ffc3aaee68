import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Files of one issued certificate. */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
}

/** Options of {@link ThrowawayPki.issue}. */
export interface IssueOptions {
  /** Extra DNS names; the certificate always names `name`, `localhost` and 127.0.0.1 too. */
  dnsNames?: readonly string[];
  /** Validity window; defaults to 2 days ago until 1 year from now. */
  notBefore?: Date;
  notAfter?: Date;
  /** File name stem; defaults to `name` (a second issue for the same name then overwrites it). */
  fileStem?: string;
}

/** A certificate authority made for the local mesh and the tests. */
export interface ThrowawayPki {
  readonly dir: string;
  readonly caFile: string;
  /** Issues a certificate (client and server use) with CN `name`, signed by this CA. */
  issue(name: string, options?: IssueOptions): IssuedCertificate;
}

/** 20260101000000Z, the time format of `openssl ca -startdate`. */
const asn1Time = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

/**
 * A throwaway CA made with the `openssl` command (P-256 keys): `npm start -- --tls` uses one for the
 * local mesh, the tests one per suite (plus a second as "another CA", and backdated certificates
 * as expired ones). Not for production: the CA key sits unencrypted in `dir`.
 */
export function createThrowawayPki(dir: string, caName = 'cdn-sched throwaway CA'): ThrowawayPki {
  mkdirSync(join(dir, 'issued'), { recursive: true });
  const run = (args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`openssl ${args[0]} failed (is the openssl command installed?): ${stderr || (error as Error).message}`, { cause: error });
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3650', '-subj', `/CN=${caName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  // `openssl ca` rather than `openssl x509 -req`: only it takes an explicit validity window
  // (OpenSSL 3.0's x509 has -days only), which the expired-certificate tests need.
  writeFileSync(join(dir, 'ca.cnf'), [
    '[ca]', 'default_ca = local', '[local]', 'database = index.txt', 'new_certs_dir = issued', 'serial = serial',
    'default_md = sha256', 'policy = any', 'unique_subject = no', 'copy_extensions = none', '[any]', 'commonName = supplied', '',
  ].join('\n'));
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    issue(name, options = {}) {
      const stem = options.fileStem ?? name;
      const keyFile = join(dir, `${stem}.key`);
      const certFile = join(dir, `${stem}.pem`);
      const notBefore = options.notBefore ?? new Date(Date.now() - 2 * 86_400_000);
      const notAfter = options.notAfter ?? new Date(Date.now() + 365 * 86_400_000);
      const dns = [...new Set([name, 'localhost', ...(options.dnsNames ?? [])])].map((n) => `DNS:${n}`);
      writeFileSync(join(dir, `${stem}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${[...dns, 'IP:127.0.0.1', 'IP:::1'].join(',')}\n`);
      run(['req', ...ec, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', `/CN=${name}`]);
      run(['ca', '-batch', '-notext', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', `${stem}.csr`, '-out', `${stem}.pem`,
        '-startdate', asn1Time(notBefore), '-enddate', asn1Time(notAfter), '-extfile', `${stem}.ext`]);
      return { certFile, keyFile };
    },
  };
}
