import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMeshDnsGateway, type MeshDnsGateway } from '@cdn-sched/local-mesh';
import { scrape, waitFor, type LabelMatch } from '@cdn-sched/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dig } from '../support/dig.js';
import { startMesh, type Mesh } from '../support/mesh.js';
import { CLIENTS, EDGES, MUSIC, VIDEO } from '../support/topology.js';
import { createSeededUniform } from '@cdn-sched/testing';

/** Edge i listens on 127.0.0.(10 + i), so an A record names the edge that was chosen. */
const edgeHost = (i: number): string => `127.0.0.${10 + i}`;
const edgeOf = (address: string): string => EDGES[Number(address.split('.')[3]) - 10]?.id ?? `unknown ${address}`;
const LONG = 'a-long-label-so-that-ten-answers-do-not-fit-in-512-bytes.e2e.example';
const SHORT_TTL = 'short.e2e.example';

interface Gateway {
  process: MeshDnsGateway['process'];
  port: number;
  metricsUrl: string;
}

async function startGateway(mesh: Mesh, name: string, env: Record<string, string>): Promise<Gateway> {
  const g = await startMeshDnsGateway({ common: mesh.serviceTlsEnv(name), configWatcher: mesh.configWatcher.address, resolvers: mesh.resolvers.map((r) => r.address), env: { INSTANCE_ID: name, ...env }, startTimeoutMs: 120_000 });
  return { process: g.process, port: g.dnsPort, metricsUrl: `${g.metricsUrl}/metrics` };
}

async function metric(g: Gateway, name: string, match: LabelMatch = {}): Promise<number> {
  return (await scrape(g.metricsUrl)).sum(name, match);
}

/** A query built byte by byte (so the fuzz does not depend on the codec under test). */
function wireQuery(id: number, name: string, qtype: number, ecs?: number[]): Buffer {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  const opt = ecs ? [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, ecs.length + 4, 0, 8, 0, ecs.length, ...ecs] : [];
  return Buffer.from([id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, ecs ? 1 : 0, ...labels, 0, 0, qtype, 0, 1, ...opt]);
}

function mutate(r: () => number, base: Buffer): Buffer {
  const b = Buffer.from(base);
  switch (Math.floor(r() * 6)) {
    case 0: // bit flips
      for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) b[Math.floor(r() * b.length)]! ^= 1 << Math.floor(r() * 8);
      return b;
    case 1: // truncation
      return b.subarray(0, Math.floor(r() * b.length));
    case 2: // bogus counts
      b.writeUInt16BE(Math.floor(r() * 65536), 4 + 2 * Math.floor(r() * 4));
      return b;
    case 3: // a label loop: the question name points at itself
      return Buffer.concat([b.subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    case 4: {
      // a huge EDNS option: lengths that claim far more than the packet holds
      const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 8, 0xff, 0xfb, 0, 1, 24, 0]);
      const q = Buffer.from(b);
      q.writeUInt16BE(1, 10);
      return Buffer.concat([q.subarray(0, base.length - (base.readUInt16BE(10) ? 19 : 0)), opt, Buffer.alloc(Math.floor(r() * 1200), 0x41)]);
    }
    default: // garbage
      return Buffer.from(Array.from({ length: Math.floor(r() * 600) }, () => Math.floor(r() * 256)));
  }
}

function dnsperf(port: number, file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', file, ...args], { timeout: 60_000, encoding: 'utf8' }, (error, stdout) => {
      if (error && !stdout) reject(new Error(`dnsperf failed: ${error.message} (Debian: apt-get install dnsperf)`));
      else resolve(stdout);
    });
  });
}

/** Bytes waiting in the kernel receive queue of the UDP socket bound to 127.0.0.1:port (Linux /proc/net/udp). */
function udpReceiveQueueBytes(port: number): number {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  let sum = 0;
  for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) sum += parseInt(f[4]!.split(':')[1]!, 16);
  }
  return sum;
}

/** The real `kdig` (Debian `knot-dnsutils`): the record data of the answer, status and ECS. */
function kdig(port: number, name: string, args: readonly string[]): Promise<{ status: string; answers: string[]; clientSubnet: { address: string; source: number; scope: number } | undefined; raw: string }> {
  return new Promise((resolve, reject) => {
    execFile('kdig', ['@127.0.0.1', '-p', String(port), name, '+retry=0', '+timeout=4', ...args], { timeout: 15_000, encoding: 'utf8' }, (error, stdout) => {
      if (error && !stdout) return reject(new Error(`kdig failed: ${error.message} (Debian: apt-get install knot-dnsutils)`));
      const subnet = /CLIENT-SUBNET: ([0-9a-f.:]+)\/(\d+)\/(\d+)/i.exec(stdout);
      const answerSection = stdout.split(';; ANSWER SECTION:')[1]?.split('\n\n')[0] ?? '';
      resolve({
        status: /status: (\w+)/.exec(stdout)?.[1] ?? 'NO-REPLY',
        answers: answerSection.split('\n').filter((l) => /\sA\s/.test(l)).map((l) => l.trim().split(/\s+/).pop()!),
        clientSubnet: subnet ? { address: subnet[1]!, source: Number(subnet[2]), scope: Number(subnet[3]) } : undefined,
        raw: stdout,
      });
    });
  });
}

describe('dns-gateway in front of a real mesh', () => {
  let mesh: Mesh;
  let gw: Gateway;
  let uncached: Gateway;

  beforeAll(async () => {
    mesh = await startMesh({ resolvers: 2, edgeHostOf: edgeHost });
    await mesh.putDomain({ domain: LONG, pool: 'music', answers: 10, ttl: 30, strategy: 'weighted', fallback: ['any'] });
    await mesh.putDomain({ domain: SHORT_TTL, pool: 'music', answers: 1, ttl: 2, strategy: 'weighted', fallback: ['isp+region', 'any'] });
    gw = await startGateway(mesh, 'dns-gateway-cached', { SERVE_STALE_MS: '4000', DECISION_DEADLINE_MS: '1000' });
    uncached = await startGateway(mesh, 'dns-gateway-uncached', { CACHE_MAX_ENTRIES: '0', DECISION_DEADLINE_MS: '1000' });
    await waitFor(async () => (await dig('127.0.0.1', gw.port, SHORT_TTL)).status === 'NOERROR', { timeoutMs: 20_000, message: 'gateway knows the domains' });
  }, 120_000);
  afterAll(async () => {
    await gw?.process.stop();
    await uncached?.process.stop();
    await mesh?.close();
  });

  it('answers what `cdnctl resolve` decides for client subnets of several provinces and ISPs, with the decided scope', async () => {
    const clients = [CLIENTS.gdCt, CLIENTS.gdCu, CLIENTS.bjCu, CLIENTS.shCt, CLIENTS.scCm, CLIENTS.us, CLIENTS.jp];
    for (const c of clients) {
      const subnet = `${c.ip.split('.').slice(0, 3).join('.')}.0/24`;
      // Consistent policy: the same /24 gets the same pair from either path.
      const [cli] = (await mesh.cdnctl(['resolve', subnet, VIDEO, '--json'])).json() as { answers: { nodeId: string }[]; ecsScope: number }[];
      const viaDns = await dig('127.0.0.1', gw.port, VIDEO, [`+subnet=${subnet}`]);
      expect(viaDns.status, `${subnet}: ${viaDns.raw}`).toBe('NOERROR');
      expect(viaDns.flags).toContain('aa');
      expect(viaDns.flags).not.toContain('ra');
      expect(viaDns.answers.map((a) => edgeOf(a.data)).sort(), subnet).toEqual(cli!.answers.map((a) => a.nodeId).sort());
      expect(viaDns.clientSubnet).toEqual({ address: subnet.split('/')[0], source: 24, scope: Math.max(24, cli!.ecsScope) });
      // Weighted policy: the answer comes from the same tier, and the scope is the geo block's.
      const [cliMusic] = (await mesh.cdnctl(['resolve', subnet, MUSIC, '--json'])).json() as { answers: { nodeId: string }[]; ecsScope: number; location: { region: string; isp: string } }[];
      const music = await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${subnet}`]);
      const edge = EDGES.find((e) => e.id === edgeOf(music.answers[0]!.data))!;
      const cliEdge = EDGES.find((e) => e.id === cliMusic!.answers[0]!.nodeId)!;
      expect([edge.country, edge.region, edge.isp], subnet).toEqual([cliEdge.country, cliEdge.region, cliEdge.isp]);
      expect(music.clientSubnet?.scope).toBe(cliMusic!.ecsScope);
      expect(music.clientSubnet!.scope).toBeLessThanOrEqual(24);
    }
  });

  it('answers NXDOMAIN and NODATA with the SOA, REFUSED outside the zone, SOA/NS at the apex, over UDP and TCP', async () => {
    const nx = await dig('127.0.0.1', gw.port, 'nope.e2e.example');
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.flags).toContain('aa');
    expect(nx.authority[0]).toMatchObject({ name: 'e2e.example.', type: 'SOA', ttl: 30 });
    const nodata = await dig('127.0.0.1', gw.port, MUSIC, ['MX']);
    expect([nodata.status, nodata.answers.length, nodata.authority[0]?.type]).toEqual(['NOERROR', 0, 'SOA']);
    expect((await dig('127.0.0.1', gw.port, 'www.example.com')).status).toBe('REFUSED');
    const soa = await dig('127.0.0.1', gw.port, 'e2e.example', ['SOA', '+tcp']);
    expect(soa.answers[0]?.data).toMatch(/^ns1\.e2e\.example\. hostmaster\.e2e\.example\. \d+ 3600 600 86400 30$/);
    const tcp = await dig('127.0.0.1', gw.port, 'MuSiC.E2e.Example', ['+tcp', `+subnet=${CLIENTS.bjCu.ip}/24`]);
    expect(tcp.status).toBe('NOERROR');
    expect(tcp.answers[0]?.name).toBe('MuSiC.E2e.Example.');
    expect(edgeOf(tcp.answers[0]!.data)).toBe('bj-cu-1');
    const badEcs = await dig('127.0.0.1', gw.port, MUSIC, ['+ednsopt=8:00011900010008']);
    expect(badEcs.status).toBe('FORMERR');
    const badvers = await dig('127.0.0.1', gw.port, MUSIC, ['+edns=1', '+noednsneg']);
    expect(badvers.status).toBe('BADVERS');
  });

  it('truncates an answer that does not fit over UDP (TC) and sends it whole over TCP', async () => {
    const udp = await dig('127.0.0.1', gw.port, LONG, ['+noedns', '+ignore']);
    expect(udp.flags).toContain('tc');
    expect(udp.answers).toHaveLength(0);
    const retried = await dig('127.0.0.1', gw.port, LONG, ['+noedns']);
    expect(retried.retriedOverTcp).toBe(true);
    expect(new Set(retried.answers.map((a) => a.data)).size).toBe(10);
    expect(await metric(gw, 'cdn_dns_truncated_total')).toBeGreaterThanOrEqual(2);
  });

  it('stops answering a drained node as soon as the config stream says so (well inside its TTL)', async () => {
    const subnet = `${CLIENTS.bjCu.ip}/24`;
    const before = await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${subnet}`]);
    expect(edgeOf(before.answers[0]!.data)).toBe('bj-cu-1');
    const ttlS = before.answers[0]!.ttl;
    const t0 = performance.now();
    await mesh.putNode('bj-cu-1', { state: 'drain' });
    await waitFor(async () => edgeOf((await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${subnet}`])).answers[0]!.data) !== 'bj-cu-1', {
      timeoutMs: ttlS * 1000,
      intervalMs: 20,
      message: 'drained bj-cu-1 gone from DNS answers',
    });
    const goneMs = performance.now() - t0;
    console.log(`drained node gone from cached DNS answers after ${goneMs.toFixed(0)} ms (TTL ${ttlS} s)`);
    expect(goneMs).toBeLessThan(ttlS * 1000);
    await mesh.putNode('bj-cu-1');
  });

  it('survives thousands of random and mutated packets over UDP and TCP, answering a valid query between them, with bounded memory', async () => {
    const r = createSeededUniform(13);
    const bases = [wireQuery(1, MUSIC, 1, [0, 1, 24, 0, 1, 0, 8]), wireQuery(2, 'e2e.example', 6), wireQuery(3, VIDEO, 28)];
    const rssBefore = await metric(gw, 'process_resident_memory_bytes');
    const udp = dgram.createSocket('udp4');
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 500; i++) {
        udp.send(mutate(r, bases[Math.floor(r() * bases.length)]!), gw.port, '127.0.0.1');
        sent++;
      }
      const conn = net.connect(gw.port, '127.0.0.1');
      conn.on('error', () => undefined);
      for (let i = 0; i < 50; i++) {
        const m = mutate(r, bases[Math.floor(r() * bases.length)]!);
        const len = r() < 0.1 ? 0xffff : m.length;
        conn.write(Buffer.concat([Buffer.from([len >> 8, len & 0xff]), m]));
        sent++;
      }
      // The burst may fill the socket's kernel buffer (rmem_max): a query sent on top of it is lost
      // before the gateway sees it, as UDP allows. The gateway must answer once it has read the burst.
      await waitFor(() => udpReceiveQueueBytes(gw.port) === 0, { timeoutMs: 30_000, intervalMs: 10, message: 'gateway read the burst' });
      const ok = await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${CLIENTS.gdCt.ip}/24`, round % 2 ? '+tcp' : '+notcp']);
      expect(ok.status, `round ${round}`).toBe('NOERROR');
      expect(EDGES.find((e) => e.id === edgeOf(ok.answers[0]!.data))?.region).toBe('CN-GD');
      conn.destroy();
    }
    udp.close();
    const rssAfter = await metric(gw, 'process_resident_memory_bytes');
    console.log(`fuzz: ${sent} packets, RSS ${(rssBefore / 2 ** 20).toFixed(1)} → ${(rssAfter / 2 ** 20).toFixed(1)} MiB, dropped ${await metric(gw, 'cdn_dns_dropped_packets_total')}, FORMERR ${await metric(gw, 'cdn_dns_queries_total', { qtype: 'none', rcode: 'FORMERR' })}`);
    expect(rssAfter - rssBefore).toBeLessThan(64 * 2 ** 20);
    expect(gw.process.exited).toBe(false);
  });

  it('ECS (RFC 7871): source /0 decides on the resolver address with scope 0; IPv6 echoed with its scope; malformed options are FORMERR', async () => {
    // SOURCE PREFIX-LENGTH 0 (§7.1.2): the packet's source (dig, on 127.0.0.1, no location) decides;
    // scope 0. Music's chain ends in `any`, so a client without a location gets an answer.
    const [fromSource] = (await mesh.cdnctl(['resolve', '127.0.0.1', MUSIC, '--json'])).json() as { tier: string }[];
    expect(fromSource!.tier).toBe('any');
    const zero = await dig('127.0.0.1', uncached.port, MUSIC, ['+subnet=0.0.0.0/0']);
    expect(zero.status, zero.raw).toBe('NOERROR');
    expect(zero.clientSubnet).toEqual({ address: '0.0.0.0', source: 0, scope: 0 });
    expect(EDGES.map((e) => e.id)).toContain(edgeOf(zero.answers[0]!.data));
    // Video's chain has no `any` tier: decided on 127.0.0.1 (and not on some subnet) it has no
    // answer, exactly as `cdnctl resolve 127.0.0.1` says; the gateway says SERVFAIL with ECS 0/0.
    const noTier = await mesh.cdnctl(['resolve', '127.0.0.1', VIDEO, '--json']);
    expect(noTier.code, noTier.stderr).not.toBe(0);
    // The resolver answered (its stable reason), so cdnctl does not suggest that it is down.
    expect(noTier.stderr).toMatch(/UNAVAILABLE: no-healthy-node: no healthy node of pool 'video' for this client/);
    expect(noTier.stderr).not.toMatch(/is the service running/);
    const zeroVideo = await dig('127.0.0.1', uncached.port, VIDEO, ['+subnet=0.0.0.0/0']);
    expect([zeroVideo.status, zeroVideo.clientSubnet?.scope]).toEqual(['SERVFAIL', 0]);

    // IPv6 (FAMILY 2), with kdig as a second client: the option is echoed, the subnet decides, and
    // the scope is the decision's.
    const v6 = '2001:db8:1200::/40';
    const [cli6] = (await mesh.cdnctl(['resolve', v6, MUSIC, '--json'])).json() as { ecsScope: number; tier: string }[];
    const k = await kdig(uncached.port, MUSIC, [`+subnet=${v6}`]);
    expect(k.status, k.raw).toBe('NOERROR');
    expect(k.clientSubnet).toEqual({ address: '2001:db8:1200::', source: 40, scope: cli6!.ecsScope });
    expect(EDGES.map((_, i) => edgeHost(i))).toContain(k.answers[0]);
    const d6 = await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${v6}`]);
    expect([d6.status, d6.clientSubnet?.source, d6.clientSubnet?.scope]).toEqual(['NOERROR', 40, cli6!.ecsScope]);

    // Malformed options (§7.1.1), as raw EDNS option bytes: FAMILY, SOURCE, SCOPE, ADDRESS.
    const malformed = {
      'unknown family 3': '0003180001000800',
      'IPv4 /33': '00012100010008000000',
      'IPv6 /129': `00028100${'00'.repeat(17)}`,
      'IPv4 address bit past /23': '00011700010009',
      'IPv6 address bit past /20': '0002140020010d',
      'address octets past the /16': '0001100001000800',
    };
    for (const [what, hex] of Object.entries(malformed)) {
      const r = await dig('127.0.0.1', gw.port, MUSIC, [`+ednsopt=8:${hex}`]);
      expect(r.status, what).toBe('FORMERR');
    }
    // The gateway keeps answering well-formed queries.
    expect((await dig('127.0.0.1', gw.port, MUSIC, [`+subnet=${CLIENTS.gdCt.ip}/24`])).status).toBe('NOERROR');
  });

  it('--workers 2: both processes serve the one UDP and TCP port, and stop together', async () => {
    const g = await startMeshDnsGateway({ common: mesh.serviceTlsEnv('dns-gateway-workers'), configWatcher: mesh.configWatcher.address, resolvers: mesh.resolvers.map((r) => r.address), env: { INSTANCE_ID: 'dns-gateway-workers', DNS_WORKERS: '2' }, startTimeoutMs: 120_000 });
    try {
      await waitFor(() => g.process.logs.filter((l) => l['msg'] === 'metrics server listening').length === 2, { timeoutMs: 120_000, message: 'both workers listening' });
      const workers = g.process.logs.filter((l) => l['msg'] === 'metrics server listening').map((l) => ({ instance: String(l['instance']), metrics: `${String(l['metrics'])}/metrics` }));
      expect(workers.map((w) => w.instance).sort()).toEqual(['dns-gateway-workers-w0', 'dns-gateway-workers-w1']);
      expect(new Set(workers.map((w) => w.metrics)).size).toBe(2); // each worker its own metrics port
      const answered = async (w: { metrics: string }, transport: string): Promise<number> => (await scrape(w.metrics)).sum('cdn_dns_queries_total', { transport });
      // TCP: the cluster primary hands connections to the workers in turn.
      for (let i = 0; i < 4; i++) {
        const r = await dig('127.0.0.1', g.dnsPort, MUSIC, ['+tcp', `+subnet=${CLIENTS.gdCt.ip}/24`]);
        expect(EDGES.find((e) => e.id === edgeOf(r.answers[0]!.data))?.region).toBe('CN-GD');
      }
      expect(await Promise.all(workers.map((w) => answered(w, 'tcp')))).toEqual([2, 2]);
      // UDP: one shared socket; the kernel wakes whichever worker waits, so bursts reach both.
      const file = join(tmpdir(), `dns-gateway-workers-${process.pid}.txt`);
      writeFileSync(file, `${MUSIC} A\n${VIDEO} A\n`);
      await waitFor(
        async () => {
          const out = await dnsperf(g.dnsPort, file, ['-n', '200', '-q', '50', '-c', '8']);
          expect(Number(/Queries lost:\s+(\d+)/.exec(out)?.[1])).toBe(0);
          return (await Promise.all(workers.map((w) => answered(w, 'udp')))).every((n) => n > 0);
        },
        { timeoutMs: 60_000, intervalMs: 100, message: 'UDP queries answered by both workers' },
      );
      const counts = await Promise.all(workers.map((w) => answered(w, 'udp')));
      console.log(`--workers 2: UDP answers per worker ${counts.join(' / ')}`);
    } finally {
      expect(await g.process.stop()).toBe(0);
    }
    expect(g.process.exited).toBe(true);
  });

  it('loses no query when a resolver is SIGKILLed under dnsperf load (the other answers), then serves stale, then SERVFAIL', async () => {
    const file = join(tmpdir(), `dns-gateway-e2e-${process.pid}.txt`);
    // Asked from 127.0.0.1 (no location): music's chain ends in `any` and always answers.
    writeFileSync(file, `${MUSIC} A\n${MUSIC} AAAA\n`);
    const run = dnsperf(uncached.port, file, ['-l', '6', '-Q', '150', '-t', '5']);
    await new Promise((r) => setTimeout(r, 2000));
    await mesh.resolvers[0]!.stop('SIGKILL');
    const out = await run;
    const lost = Number(/Queries lost:\s+(\d+)/.exec(out)?.[1]);
    const completed = Number(/Queries completed:\s+(\d+)/.exec(out)?.[1]);
    const noerror = Number(/NOERROR (\d+)/.exec(out)?.[1] ?? 0);
    console.log(out.slice(out.indexOf('Statistics')), uncached.process.logs.filter((l) => String(l['msg']).includes('failed over')));
    console.log(`dnsperf through a resolver SIGKILL: completed ${completed}, lost ${lost}, NOERROR ${noerror}; ${/Latency: .*/.exec(out)?.[0]}`);
    expect(completed).toBeGreaterThan(400);
    expect(lost).toBe(0);
    expect(noerror).toBe(completed);

    // Just before the last resolver goes, the cached gateway learns the short-TTL answer it will then
    // serve stale. It is served stale for at most 4 s past its 2 s TTL, so it must be learnt after
    // the dnsperf run (6 s), not before it (then it was already past the bound).
    const fresh = await dig('127.0.0.1', gw.port, SHORT_TTL, [`+subnet=${CLIENTS.shCt.ip}/24`]);
    expect(edgeOf(fresh.answers[0]!.data)).toBe('sh-ct-1');
    await mesh.resolvers[1]!.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 2200)); // past the 2 s TTL
    const stale = await dig('127.0.0.1', gw.port, SHORT_TTL, [`+subnet=${CLIENTS.shCt.ip}/24`]);
    expect([stale.status, edgeOf(stale.answers[0]!.data)]).toEqual(['NOERROR', 'sh-ct-1']);
    expect(stale.answers[0]!.ttl).toBeLessThanOrEqual(2);
    expect(await metric(gw, 'cdn_dns_stale_answers_total')).toBeGreaterThanOrEqual(1);
    const t0 = performance.now();
    const never = await dig('127.0.0.1', gw.port, SHORT_TTL, [`+subnet=${CLIENTS.jp.ip}/24`]);
    expect(never.status).toBe('SERVFAIL');
    expect(performance.now() - t0).toBeLessThan(1000 + 500);
    await new Promise((r) => setTimeout(r, 4500)); // past the 4 s staleness bound after the TTL
    expect((await dig('127.0.0.1', gw.port, SHORT_TTL, [`+subnet=${CLIENTS.shCt.ip}/24`])).status).toBe('SERVFAIL');
  });
});
