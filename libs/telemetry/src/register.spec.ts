// End-to-end check of `node --import <register.js>`: a real Node process (not vitest's module
// runner) with the OpenTelemetry variables set, an application that imports `@grpc/grpc-js` as
// ESM after the register module ran, and an OTLP/HTTP collector stand-in that records what arrives.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

interface Export {
  path: string;
  contentType: string | undefined;
  body: Buffer;
}

interface AppReport {
  reply: string;
  instrumented: boolean;
  sampleRatio: number | null;
  otlpTracesUrl: string | null;
}

// The application run under `--import`: loads grpc-js with a bare ESM import (the path that
// needs the import-in-the-middle loader hook), makes one unary call, then flushes tracing.
const APP = `
import { currentTracing, shutdownTracing } from './tracing.js';
const grpc = await import('@grpc/grpc-js');
const instrumented = grpc.Server.prototype.register.__wrapped === true;
const id = (b) => b;
const service = { ping: { path: '/cdn.test.v1.Echo/Ping', requestStream: false, responseStream: false,
  requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } };
const server = new grpc.Server();
server.addService(service, { ping: (call, cb) => cb(null, Buffer.concat([Buffer.from('pong:'), call.request])) });
const port = await new Promise((ok, ko) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? ko(e) : ok(p))));
const Client = grpc.makeGenericClientConstructor(service, 'Echo');
const client = new Client('127.0.0.1:' + port, grpc.credentials.createInsecure());
const reply = await new Promise((ok, ko) => client.ping(Buffer.from('x'), (e, r) => (e ? ko(e) : ok(r.toString()))));
client.close();
await new Promise((ok) => server.tryShutdown(ok));
const tracing = currentTracing();
const report = { reply, instrumented, sampleRatio: tracing?.sampleRatio ?? null, otlpTracesUrl: tracing?.otlpTracesUrl ?? null };
await shutdownTracing();
process.stdout.write(JSON.stringify(report) + '\\n');
`;

const workspaceNodeModules = resolve(import.meta.dirname, '../../../node_modules');
let dir: string;
let collector: Server;
let collectorUrl: string;
let exports: Export[] = [];

/** Type-strips the library sources into `dir` (plain JS, ESM), as `tsc` would emit them. */
async function transpileSources(): Promise<void> {
  const sources = (await readdir(import.meta.dirname)).filter((name) => name.endsWith('.ts') && !name.endsWith('.spec.ts'));
  for (const name of sources) {
    const text = await readFile(join(import.meta.dirname, name), 'utf8');
    const { outputText } = ts.transpileModule(text, {
      fileName: name,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    await writeFile(join(dir, name.replace(/\.ts$/, '.js')), outputText);
  }
}

function runApp(env: Record<string, string>): Promise<AppReport> {
  return new Promise((resolveRun, rejectRun) => {
    execFile(
      process.execPath,
      ['--import', pathToFileURL(join(dir, 'register.js')).href, join(dir, 'app.mjs')],
      { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        if (error) rejectRun(new Error(`app failed: ${error.message}\n${stderr}`));
        else resolveRun(JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as AppReport);
      },
    );
  });
}

function count(haystack: Buffer, needle: string): number {
  let found = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) found += 1;
  return found;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'telemetry-register-'));
  // Bare specifiers (@opentelemetry/*, @grpc/grpc-js) resolve through this link to the workspace.
  await symlink(workspaceNodeModules, join(dir, 'node_modules'), 'dir');
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
  await writeFile(join(dir, 'app.mjs'), APP);
  await transpileSources();

  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      exports.push({ path: req.url ?? '', contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((ok) => collector.listen(0, '127.0.0.1', ok));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

afterAll(async () => {
  collector?.closeAllConnections();
  await new Promise<void>((ok) => (collector ? collector.close(() => ok()) : ok()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  exports = [];
});

describe('node --import register.js', () => {
  it('instruments grpc-js imported later and exports client and server spans over OTLP/HTTP', async () => {
    const report = await runApp({ OTEL_SERVICE_NAME: 'register-spec', OTEL_EXPORTER_OTLP_ENDPOINT: `${collectorUrl}/` });
    expect(report).toEqual({ reply: 'pong:x', instrumented: true, sampleRatio: 1, otlpTracesUrl: `${collectorUrl}/v1/traces` });

    expect(exports.length).toBeGreaterThan(0);
    expect(exports.every((e) => e.path === '/v1/traces' && e.contentType === 'application/x-protobuf')).toBe(true);
    const body = Buffer.concat(exports.map((e) => e.body));
    // Protobuf carries strings as raw UTF-8, so the span names and attributes are findable bytes:
    // one client and one server span, each named after the method.
    expect(count(body, 'grpc.cdn.test.v1.Echo/Ping')).toBe(2);
    expect(count(body, 'register-spec')).toBeGreaterThanOrEqual(1);
    expect(count(body, 'rpc.method')).toBe(2);
  });

  it('samples no root trace with OTEL_TRACES_SAMPLER_ARG=0', async () => {
    const report = await runApp({ OTEL_SERVICE_NAME: 'register-spec', OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl, OTEL_TRACES_SAMPLER_ARG: '0' });
    expect(report).toMatchObject({ reply: 'pong:x', instrumented: true, sampleRatio: 0 });
    expect(exports).toEqual([]);
  });

  it('installs nothing with OTEL_SDK_DISABLED=true', async () => {
    const report = await runApp({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: collectorUrl });
    expect(report).toEqual({ reply: 'pong:x', instrumented: false, sampleRatio: 0, otlpTracesUrl: null });
    expect(exports).toEqual([]);
  });
});
