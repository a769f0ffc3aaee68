/**
 * In-process benchmark of the gateway's per-query work without sockets (`npm run bench --
 * dns-handler`): what one cache-hit query costs in the query handler, answered the long way (packet
 * cache off) and from the packet cache (the same queries again), and the codec alone on the
 * library path (`readQuery` + `writeReply` through dns-packet) against the hand-written fast path
 * (`readSimpleQuery` + `writeAddressReply`). Queries carry an ECS /24 each (seeded random
 * addresses); the cache is filled first from an in-process decision source, so the timed loop
 * never waits. CPU time per query from process.cpuUsage (GC included). Prints JSON lines.
 */
import { create } from '@bufbuild/protobuf';
import { ResolveResponseSchema } from '@cdn-sched/proto';
import { createAnswerCache } from '../answer-cache.js';
import type { DecisionClient } from '../decisions/decision-client.js';
import { toDecisionRecords, type DecisionRecords } from '../decision-records.js';
import { readSimpleQuery, writeAddressReply } from '../dns/fast-path.js';
import { readQuery } from '../dns/query-reader.js';
import { writeReply } from '../dns/reply-writer.js';
import { createZoneModel, type ApexSettings } from '../dns/zone-model.js';
import { createQueryHandler } from '../query-handler.js';

const BENCH = 'dns-handler';
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 200_000);
const emit = (metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void =>
  console.log(JSON.stringify({ bench: BENCH, metric, value: Math.round(value * 1000) / 1000, unit, ...extra }));

const apex: ApexSettings = { nsNames: ['ns1'], nsAddresses: [], soaRname: 'hostmaster', soaSerial: 1, soaRefreshS: 3600, soaRetryS: 600, soaExpireS: 86400, soaMinimumS: 30, apexTtlS: 3600 };
const zones = createZoneModel({ policies: [{ name: 'music.bench.example', consistent: false }, { name: 'video.bench.example', consistent: true }], explicitZones: [], apex });
const decision = create(ResolveResponseSchema, { answers: [{ nodeId: 'a', address: '127.0.0.11', ttlS: 3600 }, { nodeId: 'b', address: '127.0.0.12', ttlS: 3600 }], ecsScope: 16, configVersion: 1n });
const decisions: DecisionClient = {
  target: 'in-process',
  pending: 0,
  decide: () => Promise.resolve({ ok: true, response: decision }),
  close: () => Promise.resolve(),
};
const cache = createAnswerCache<DecisionRecords>();
const options = { zones: () => zones, apex, configVersion: () => 1, decisions, cache, maxUdpBytes: 1232, staleTtlS: 5, traceRatio: 0 };
const handler = createQueryHandler({ ...options, packetCacheMaxEntries: 0 });
const packetHandler = createQueryHandler(options);

let seed = 13;
const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / 16777216;
const queries: Buffer[] = [];
for (let i = 0; i < 4096; i++) {
  const name = i % 2 === 0 ? 'music.bench.example' : 'video.bench.example';
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const ecs = [0, 8, 0, 7, 0, 1, 24, 0, 1 + Math.floor(rand() * 222), Math.floor(rand() * 256), Math.floor(rand() * 256)];
  queries.push(Buffer.concat([Buffer.from([i >> 8, i & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]), ...labels, Buffer.from([0, 0, 1, 0, 1]), Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, ecs.length]), Buffer.from(ecs)]));
}
const source = { address: '192.0.2.1' };
// Fill the cache: every query decided once.
for (const q of queries) await handler.handle(q, source, 'udp');

const time = (fn: (q: Buffer) => unknown): number => {
  for (let i = 0; i < 20_000; i++) fn(queries[i & 4095]!); // warm up the JIT
  const c0 = process.cpuUsage();
  for (let i = 0; i < ROUNDS; i++) fn(queries[i & 4095]!);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / ROUNDS;
};

const records = toDecisionRecords(decision, 16);
const packed = records.v4Packed;
const hit = time((q) => {
  const out = handler.handle(q, source, 'udp');
  if (out instanceof Promise) throw new Error('cache miss in the timed loop');
});
const packetHit = time((q) => {
  const out = packetHandler.handle(q, source, 'udp');
  if (out instanceof Promise) throw new Error('cache miss in the timed loop');
});
// Queries equal but for their ID share an entry.
const distinct = new Set(queries.map((q) => q.subarray(2).toString('hex'))).size;
if (packetHandler.packetCacheSize !== distinct) throw new Error(`the packet cache holds ${packetHandler.packetCacheSize} of ${distinct} distinct queries`);
const library = time((q) => {
  const r = readQuery(q);
  if (r.kind !== 'query') throw new Error('unexpected');
  return writeReply(r.query, { rcode: 0, aa: true, answers: records.v4.map((data) => ({ type: 'A', name: r.query.askedName, ttl: 60, data })), authorities: [], ecsScope: 16 }, { limitBytes: 1232, advertisedUdpBytes: 1232 });
});
const fast = time((q) => writeAddressReply(readSimpleQuery(q)!, packed, { ttlS: 60, ecsScope: 16, advertisedUdpBytes: 1232, limitBytes: 1232 }));
emit('handler, cache hit (fast path), CPU per query', hit, 'µs');
emit('handler, cache hit from the packet cache, CPU per query', packetHit, 'µs', { baseline: hit, ratio: Math.round((packetHit / hit) * 100) / 100 });
emit('codec, library path (readQuery + writeReply), CPU per query', library, 'µs');
emit('codec, fast path (readSimpleQuery + writeAddressReply), CPU per query', fast, 'µs', { baseline: library, ratio: Math.round((fast / library) * 100) / 100 });
