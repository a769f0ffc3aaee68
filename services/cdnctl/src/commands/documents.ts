import { readFile } from 'node:fs/promises';
import { domainKey, documentOfDomain, nodeKey, documentOfNode, parseDocument, readJsonText } from '@cdn-sched/documents';
import { createEtcdClient, EtcdError, toText, type EtcdClient } from '@cdn-sched/etcd';
import { NodeState, type Node } from '@cdn-sched/proto';
import { SpanAttributes } from '@cdn-sched/telemetry';
import { CliError, endpoints, etcdConnection, print, type ParsedArgs } from '../cli.js';
import { traceWrite } from './write-tracing.js';

type Kind = 'node' | 'domain';

async function readInput(source: string | undefined): Promise<string> {
  if (!source) throw new CliError('missing <file|-> (a JSON document, or an array of them; - reads standard input)', 2);
  if (source === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  return readFile(source, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new CliError(`cannot read ${source}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
}

function keyOf(kind: Kind, prefix: string, doc: unknown): string {
  const field = kind === 'node' ? 'id' : 'domain';
  const id = (doc as Record<string, unknown> | null)?.[field];
  if (typeof id !== 'string' || id === '') throw new CliError(`${kind} document without a "${field}" string: ${JSON.stringify(doc).slice(0, 80)}`);
  return kind === 'node' ? nodeKey(prefix, id) : domainKey(prefix, id);
}

async function withEtcd<T>(args: ParsedArgs, fn: (client: EtcdClient, prefix: string) => Promise<T>): Promise<T> {
  const e = endpoints(args);
  const client = createEtcdClient(etcdConnection(e));
  try {
    return await fn(client, e.prefix);
  } catch (error) {
    if ((error as { code?: string }).code === 'UNAVAILABLE' || (error as { code?: string }).code === 'TIMEOUT') {
      throw new CliError(`etcd at ${e.etcd.join(',')} is not reachable (${(error as Error).message}); set ETCD_ENDPOINTS or --etcd-endpoints`);
    }
    if (error instanceof EtcdError) throw new CliError(error.message);
    throw error;
  } finally {
    client.close();
  }
}

/**
 * `node put` / `domain put`: reads the input with the config-watcher's strict JSON reader (a
 * duplicate property, which `JSON.parse` would silently collapse to its last value, is refused with
 * its path and position), validates every document with the config-watcher's validator, then
 * writes them all in ONE etcd transaction: a fleet change lands whole or not at all, also when etcd
 * refuses it (too many operations, request too large, permission) or fails midway.
 */
export async function putDocuments(kind: Kind, args: ParsedArgs): Promise<void> {
  const source = args.positionals[0];
  const text = await readInput(source);
  // The input may hold many documents: each one's size is checked below, as the config-watcher does.
  const read = readJsonText(text, Number.POSITIVE_INFINITY);
  if (!read.ok) throw new CliError(`${source === '-' ? 'standard input' : source}: ${read.reason} (nothing written)`);
  const docs = Array.isArray(read.value) ? read.value : [read.value];
  if (docs.length === 0) throw new CliError(`${source}: an empty array, nothing to write`);
  await withEtcd(args, async (client, prefix) => {
    const checked = docs.map((doc, i) => {
      const key = keyOf(kind, prefix, doc);
      const value = JSON.stringify(doc);
      const result = parseDocument(key, value, { prefix });
      if (!result.ok) throw new CliError(`${key}${docs.length > 1 ? ` (document ${i + 1} of ${docs.length})` : ''}: ${result.reason} (nothing written)`);
      return { key, value };
    });
    const keys = new Set<string>();
    for (const { key } of checked) {
      if (keys.has(key)) throw new CliError(`${key} appears twice in the input (nothing written)`);
      keys.add(key);
    }
    const revision = await traceWrite(prefix, checked.length, async ({ put, span }) => {
      const puts = put === undefined ? checked : [...checked, put];
      const response = await client.etcd.kv
        .txn({ success: puts.map(({ key, value }) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value) } })) })
        .catch((error: unknown) => {
          throw new CliError(`etcd refused the transaction of ${checked.length} document(s), nothing written: ${EtcdError.from(error, 'put').message}${/too many operations/.test(String((error as Error).message)) ? ' (etcd --max-txn-ops, 128 by default, bounds one transaction)' : ''}`);
        });
      span.setAttribute(SpanAttributes.configVersion, Number(response.header.revision));
      return Number(response.header.revision);
    });
    for (const { key } of checked) print(args, { key, revision, written: true }, () => `${key} written at revision ${revision}`);
  });
}

function describeNode(n: Node): string {
  const state = NodeState[n.state]?.toLowerCase() ?? '?';
  return `${n.id.padEnd(14)} ${`${n.address}:${n.port}`.padEnd(22)} ${n.country.padEnd(3)}${n.region.padEnd(7)}${(n.isp || '-').padEnd(7)}${String(n.capacityRps).padStart(8)}  ${state.padEnd(11)} ${n.pools.join(',')}`;
}

/** `node list` / `domain list`. */
export async function listDocuments(kind: Kind, args: ParsedArgs): Promise<void> {
  await withEtcd(args, async (client, prefix) => {
    const dir = `${prefix}${kind === 'node' ? 'nodes' : 'domains'}/`;
    const { kvs, revision } = await client.list(dir);
    const lines: string[] = [];
    for (const kv of kvs) {
      const result = parseDocument(kv.key, kv.value, { prefix });
      if (!result.ok) {
        print(args, { key: kv.key, rejected: result.reason }, () => `${kv.key}  REJECTED: ${result.reason}`);
        continue;
      }
      if (result.kind === 'node') {
        if (args.flags.get('json')) print(args, { key: kv.key, modRevision: kv.modRevision, ...documentOfNode(result.node) }, () => '');
        else lines.push(describeNode(result.node));
      } else if (result.kind === 'domain') {
        if (args.flags.get('json')) print(args, { key: kv.key, modRevision: kv.modRevision, ...documentOfDomain(result.domain) }, () => '');
        else lines.push(`${kv.key.slice(dir.length).padEnd(28)} ${JSON.stringify(documentOfDomain(result.domain))}`);
      }
    }
    if (!args.flags.get('json')) process.stdout.write(`${lines.join('\n')}${lines.length ? '\n' : ''}(${kvs.length} ${kind}s at revision ${revision})\n`);
  });
}

/** `node rm` / `domain rm`. */
export async function removeDocument(kind: Kind, args: ParsedArgs): Promise<void> {
  const id = args.positionals[0];
  if (!id) throw new CliError(`missing <${kind === 'node' ? 'id' : 'fqdn'}>`, 2);
  await withEtcd(args, async (client, prefix) => {
    const key = kind === 'node' ? nodeKey(prefix, id) : domainKey(prefix, id);
    const deleted = await client.delete(key);
    if (deleted === 0) throw new CliError(`${key}: not found`);
    print(args, { key, deleted: true }, () => `${key} deleted`);
  });
}

/**
 * `node drain <id>`: sets `state` to drain with a compare-and-swap on the key's mod revision, so a
 * concurrent edit is not overwritten (etcd Txn: compare MOD == read revision, then put).
 */
export async function drainNode(args: ParsedArgs, state: 'drain' | 'active' | 'maintenance' = 'drain'): Promise<void> {
  const id = args.positionals[0];
  if (!id) throw new CliError('missing <id>', 2);
  await withEtcd(args, async (client, prefix) => {
    const key = nodeKey(prefix, id);
    const revision = await traceWrite(prefix, 1, async ({ put, span }) => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const kv = await client.get(key);
        if (!kv) throw new CliError(`${key}: not found`);
        const doc = JSON.parse(toText(kv.value)) as Record<string, unknown>;
        doc['state'] = state;
        const value = JSON.stringify(doc);
        const check = parseDocument(key, value, { prefix });
        if (!check.ok) throw new CliError(`${key}: the stored document is invalid (${check.reason}); fix it with node put`);
        // etcd3's transaction builder, on the same pool and credentials as every other call.
        const res = await client.etcd
          .if(key, 'Mod', '==', kv.modRevision)
          .then(client.etcd.put(key).value(value), ...(put === undefined ? [] : [client.etcd.put(put.key).value(put.value)]))
          .commit()
          .catch((error: unknown) => {
            throw EtcdError.from(error, `drain ${key}`);
          });
        if (res.succeeded) {
          span.setAttribute(SpanAttributes.configVersion, Number(res.header.revision));
          return Number(res.header.revision);
        }
      }
      throw new CliError(`${key}: changed concurrently 5 times in a row; try again`);
    });
    print(args, { key, state, revision }, () => `${key}: state ${state} at revision ${revision}`);
  });
}
