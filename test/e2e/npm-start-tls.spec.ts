import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials as grpcCredentials } from '@grpc/grpc-js';
import { serviceDefinitions } from '@cdn-sched/proto';
import { getFreePort, repoRoot, waitFor } from '@cdn-sched/testing';
import { createThrowawayPki, createTransport, type Transport } from '@cdn-sched/transport';
import { createChannel, createClient, Status, type Channel } from 'nice-grpc';
import { afterAll, describe, expect, it } from 'vitest';
import { runCdnctl } from '../support/cdnctl.js';
import { dig } from '../support/dig.js';
import { E2E_TLS } from '../support/mesh.js';
import { failWithOutput } from '../support/process-output.js';

/** What `cdnctl mesh` records for cdnctl (services/cdnctl/src/cli.ts `MeshState`). */
interface MeshRecord {
  etcd: string;
  pid: number;
  tls?: { caFile: string; certFile: string; keyFile: string; serverName: string };
  services?: { configWatcher: string; weightCalculator: string; resolver: string; probers: string[]; dnsGatewayMetrics: string };
}

/**
 * `npm start -- --tls` as an operator meets it: `cdnctl mesh --tls` (what npm start runs) with
 * kernel-chosen ports and its own TMPDIR (so its record file and certificates cannot meet another
 * mesh on this machine), then cdnctl commands from "another terminal" that configure nothing: they
 * find etcd, the addresses and the certificates through the record file. Every service process must
 * refuse a plaintext client, a TLS client without a certificate and one whose certificate another
 * CA signed; the dns-gateway, which has no gRPC server, answers DNS only through its mutual-TLS
 * ResolveStream to the resolver.
 */
// `npm start -- --tls` by name, it makes its own CA: plaintext pass only (it is the TLS case there).
describe.skipIf(E2E_TLS)('npm start -- --tls: the whole local mesh over mutual TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mesh-tls-e2e-'));
  const env = { TMPDIR: dir, ETCD_ENDPOINTS: '', TLS_CA_FILE: '', TLS_CERT_FILE: '', TLS_KEY_FILE: '' };
  // cdnctl pays etcd3's start-up (parsing etcd's .proto files) on every run: seconds on a busy machine.
  const cdnctl = (args: readonly string[]) => runCdnctl(args, env, 90_000);
  let mesh: ChildProcess | undefined;
  let output = '';
  const withOutput = failWithOutput(() => output);
  const transports: Transport[] = [];
  const channels: Channel[] = [];
  afterAll(async () => {
    for (const c of channels) c.close();
    for (const t of transports) t.close();
    if (mesh && mesh.exitCode === null) {
      // Ctrl-C first: a SIGKILLed mesh cannot stop its service processes.
      mesh.kill('SIGINT');
      await waitFor(() => mesh!.exitCode !== null, { timeoutMs: 60_000, message: 'the mesh to stop' }).catch(() => mesh!.kill('SIGKILL'));
    }
    rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it('serves cdnctl with the recorded certificates, answers DNS through mTLS, refuses strangers on every service, and removes its certificates on Ctrl-C', async () => {
    const bin = join(repoRoot, 'services', 'cdnctl', 'bin', 'cdnctl.js');
    // A port outside the ephemeral range: with 0, the gateway's TCP listener may find the port the
    // kernel gave its UDP socket taken by another process's TCP connection.
    const dnsPort = await getFreePort();
    mesh = spawn(process.execPath, [bin, 'mesh', '--tls', '--any-ports', '--dns-port', String(dnsPort), '--status-interval-ms', '500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    mesh.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    mesh.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    // Generous: seven processes start one kind after the other, on a machine that may be saturated.
    await waitFor(() => output.includes('Ctrl-C stops everything') || mesh!.exitCode !== null, { timeoutMs: 300_000, message: 'the mesh to start' }).catch(withOutput);
    expect(mesh.exitCode, output).toBeNull();
    const record = JSON.parse(readFileSync(join(dir, 'cdn-sched-mesh.json'), 'utf8')) as MeshRecord;
    expect(record.pid).toBe(mesh.pid);
    const tls = record.tls!;
    const at = record.services!;
    expect(tls.caFile.startsWith(dir)).toBe(true);
    expect(output).toContain(`mutual TLS         CA ${tls.caFile}`);
    // The mesh's own replay streams weights and decisions over mTLS: every demo edge healthy.
    await waitFor(() => /healthy 15\/15 nodes/.test(output), { timeoutMs: 60_000, message: 'every demo edge healthy' }).catch(withOutput);

    const status = await cdnctl(['status', '--json']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    const rows = status.json();
    // config-watcher, two probers, weight-calculator, resolver and the dns-gateway's /readyz.
    expect(rows).toHaveLength(6);
    expect(rows.filter((r) => r['up'] !== true || r['ready'] !== true)).toEqual([]);

    const first = await cdnctl(['resolve', '1.0.8.1', 'music.demo.example', '--json']);
    expect(first.stderr).toBe('');
    const decision = first.json()[0]!;
    expect(decision['location']).toMatchObject({ country: 'CN', region: 'CN-GD', isp: 'ct' });
    const answered = (decision['answers'] as { nodeId: string; address: string }[])[0]!;
    expect(['gd-ct-1', 'gd-ct-2']).toContain(answered.nodeId);

    // The dns-gateway's decisions come over ResolveStream from a resolver that requires a certificate.
    expect(output).toContain(`dns-gateway        127.0.0.1:${dnsPort} (DNS`);
    const answer = await dig('127.0.0.1', dnsPort, 'music.demo.example', ['+subnet=1.0.8.0/24']);
    expect(answer.status).toBe('NOERROR');
    // music.demo.example is weighted: each decision picks one of the two Guangdong Telecom edges.
    expect(answer.answers.length).toBeGreaterThan(0);
    for (const a of answer.answers) expect(['127.0.0.11', '127.0.0.12']).toContain(a.data);

    const drain = await cdnctl(['node', 'drain', answered.nodeId, '--json']);
    expect(drain.code).toBe(0);
    await waitFor(
      async () => {
        const after = await cdnctl(['resolve', '1.0.8.1', 'music.demo.example', '--json']);
        const nodeId = (after.json()[0]?.['answers'] as { nodeId: string }[] | undefined)?.[0]?.nodeId;
        return nodeId !== undefined && nodeId !== answered.nodeId;
      },
      { timeoutMs: 120_000, message: `an answer other than the drained ${answered.nodeId}` },
    );

    // Refusals by each service process (not by a library test server).
    const other = createThrowawayPki(join(dir, 'other-ca'), 'another CA');
    const stranger = createTransport({ tls: { caFile: tls.caFile, ...other.issue('cdnctl') }, serverNameOverride: tls.serverName });
    const member = createTransport({ tls: { caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile }, serverNameOverride: tls.serverName });
    transports.push(stranger, member);
    type Kind = 'configWatcher' | 'prober' | 'weightCalculator' | 'resolver';
    const statusOf = (kind: Kind, channel: Channel) => {
      channels.push(channel);
      // Every service's Status has the same types; the definition names the path.
      return createClient(serviceDefinitions[kind] as typeof serviceDefinitions.resolver, channel).status({}, { signal: AbortSignal.timeout(10_000) });
    };
    const targets: [Kind, string][] = [['configWatcher', at.configWatcher], ...at.probers.map((p): [Kind, string] => ['prober', p]), ['weightCalculator', at.weightCalculator], ['resolver', at.resolver]];
    expect(targets).toHaveLength(5);
    for (const [kind, address] of targets) {
      await expect(statusOf(kind, createChannel(address)), `${address}: plaintext`).rejects.toMatchObject({ code: Status.UNAVAILABLE });
      const noCertificate = createChannel(address, grpcCredentials.createSsl(readFileSync(tls.caFile)), { 'grpc.ssl_target_name_override': tls.serverName });
      await expect(statusOf(kind, noCertificate), `${address}: TLS without a client certificate`).rejects.toMatchObject({ code: Status.UNAVAILABLE });
      await expect(statusOf(kind, stranger.channel(address)), `${address}: certificate of another CA`).rejects.toMatchObject({ code: Status.UNAVAILABLE });
      expect((await statusOf(kind, member.channel(address))).ready, `${address}: the mesh's certificate`).toBe(true);
    }

    mesh.kill('SIGINT');
    await waitFor(() => mesh!.exitCode !== null, { timeoutMs: 60_000, message: 'the mesh to stop' }).catch(withOutput);
    expect(output).toContain('mesh stopped');
    expect(existsSync(tls.caFile)).toBe(false);
    expect(existsSync(join(dir, 'cdn-sched-mesh.json'))).toBe(false);
  }, 600_000);
});
