/**
 * Benchmark of the IP index against the official `ip2region.js` in-memory searcher
 * (`newWithBuffer`, whole xdb in memory), on the same seeded random addresses in the same run.
 *
 * Run: `cd libs/geoip && npx tsc -b tsconfig.lib.json && node dist/bench/geoip.bench.js`.
 * Prints one JSON line per measurement.
 *
 * Method. Each of 9 rounds runs every contender over the same 200,000 addresses (ours 10 times,
 * so that its timed loop lasts about as long as the baseline's), back to back, with a full garbage
 * collection before each contender: the baseline allocates per search and
 * ours does not, so without it our pass would share the CPU with the collector's concurrent work
 * on the baseline's garbage. Figures are medians over rounds; `ratio` is the median of the
 * per-round ratios, so that load changes on a shared machine hit both sides of a ratio alike.
 * (Interleaving in short chunks was tried and rejected: the collection before each chunk leaves
 * the caches cold, which penalises the shorter loop — ours.)
 *
 * Metrics: `lookup_text_ns` — from an address string (ours: parse + lookup + location; baseline:
 * `search(string)`); `lookup_u32_ns` — from a parsed address (ours: u32; baseline: `search(Buffer)`
 * of 4 bytes, its binary form); `lookup_wire_bytes_ns` — ours straight from the request bytes
 * (`parseIpv4Bytes`), against the baseline from a string (not charged the bytes → string decode);
 * `lookup_with_prefix_ns` — ours, location id plus ECS prefix length.
 *
 * The baseline's `search` is async; it is called without `await` (its body runs to completion
 * synchronously), which measures its own work plus one promise, the least it can cost.
 *
 * Env: `GEOIP_BENCH_XDB` — the ip2region xdb for the baseline and the xdb load time. Defaults to
 * the workplace copy; when missing, those measurements are skipped (reported on stderr).
 */
import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IPv4, newWithBuffer, type Searcher } from 'ip2region.js';
import {
  defaultDatabasePath,
  formatIpv4,
  formatIpv6,
  loadGeoIpDatabase,
  parseGeoIpDatabase,
  parseIpv4,
  parseIpv4Bytes,
  parseIpv6,
  type GeoIpDatabase,
} from '../index.js';
import { createSeededU32 } from '@cdn-sched/testing';

const XDB_PATH = process.env['GEOIP_BENCH_XDB'] ?? '/work/shared/data/ip2region/ip2region_v4.xdb';
const MMDB_PATH = process.env['GEOIP_BENCH_MMDB'] ?? '/work/shared/data/maxmind/GeoIP2-City-Test.mmdb';
const ADDRESSES = 200_000;
const ROUNDS = 9;
/**
 * Passes of ours per round: one pass takes ~10 ms against the baseline's ~200 ms, and a loop that
 * short is skewed by a single preemption on a shared machine.
 */
const OUR_PASSES = 10;
const LOAD_ROUNDS = 3;

interface Line {
  bench: 'geoip';
  metric: string;
  value: number;
  unit: string;
  baseline?: number;
  ratio?: number;
}

function emit(line: Omit<Line, 'bench'>): void {
  const round = (n: number): number => Math.round(n * 100) / 100;
  const out: Line = { bench: 'geoip', ...line, value: round(line.value) };
  if (line.baseline !== undefined) out.baseline = round(line.baseline);
  if (line.ratio !== undefined) out.ratio = round(line.ratio);
  console.log(JSON.stringify(out));
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** `gc()` without a command-line flag. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Keeps results observable so that no loop is optimised away. */
const sink = new Int32Array(1);

/** A timed loop over inputs `[from, to)`; returns elapsed nanoseconds. */
type Contender = (from: number, to: number) => number;

function elapsedNs(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/*
 * One function per loop, each with its own call sites: a shared loop calling a callback per
 * address would turn megamorphic and add the same call overhead to every contender.
 */

function oursFromText(db: GeoIpDatabase, texts: readonly string[]): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = from; i < to; i++) acc += db.location(db.lookupV4(parseIpv4(texts[i]!))).country.length;
    sink[0] = acc;
    return elapsedNs(start);
  };
}

function oursFromBytes(db: GeoIpDatabase, wire: Uint8Array, offsets: Uint32Array): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = from; i < to; i++) acc += db.location(db.lookupV4(parseIpv4Bytes(wire, offsets[i]!, offsets[i + 1]!))).region.length;
    sink[0] = acc;
    return elapsedNs(start);
  };
}

function oursFromU32(db: GeoIpDatabase, ips: Uint32Array): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = from; i < to; i++) acc += db.location(db.lookupV4(ips[i]!)).isp.length;
    sink[0] = acc;
    return elapsedNs(start);
  };
}

function oursWithPrefix(db: GeoIpDatabase, ips: Uint32Array): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = from; i < to; i++) acc += db.lookupV4(ips[i]!) + db.prefixLenV4(ips[i]!);
    sink[0] = acc;
    return elapsedNs(start);
  };
}

function baselineFromText(searcher: Searcher, texts: readonly string[]): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let last: unknown;
    for (let i = from; i < to; i++) last = searcher.search(texts[i]!);
    const ns = elapsedNs(start);
    sink[0] = last === undefined ? 0 : 1;
    return ns;
  };
}

function baselineFromBuffer(searcher: Searcher, buffers: readonly Buffer[]): Contender {
  return (from, to) => {
    const start = process.hrtime.bigint();
    let last: unknown;
    for (let i = from; i < to; i++) last = searcher.search(buffers[i]!);
    const ns = elapsedNs(start);
    sink[0] = last === undefined ? 0 : 1;
    return ns;
  };
}

function mmdbFromText(db: GeoIpDatabase, texts: readonly string[]): Contender {
  const scratch = new Uint8Array(16);
  return (from, to) => {
    const start = process.hrtime.bigint();
    let acc = 0;
    for (let i = from; i < to; i++) acc += db.location(db.lookupV6(parseIpv6(texts[i]!, scratch)!)).country.length;
    sink[0] = acc;
    return elapsedNs(start);
  };
}

/** Timed passes over the addresses per round (ours needs more to last as long as the baseline). */
interface Timed {
  readonly run: Contender;
  readonly passes: number;
}

/**
 * Runs every contender over all addresses, one after the other, for every round.
 *
 * @returns per contender, the ns/op of each round.
 */
function rounds(contenders: readonly Timed[], collect: () => void): number[][] {
  const perRound = contenders.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    contenders.forEach(({ run, passes }, c) => {
      collect();
      let ns = 0;
      for (let pass = 0; pass < passes; pass++) ns += run(0, ADDRESSES);
      perRound[c]!.push(ns / (ADDRESSES * passes));
    });
  }
  return perRound;
}

function compare(metric: string, ours: readonly number[], baseline: readonly number[] | undefined): void {
  if (baseline === undefined) {
    emit({ metric, value: median(ours), unit: 'ns/op' });
    return;
  }
  const ratios = ours.map((ns, round) => baseline[round]! / ns);
  emit({ metric, value: median(ours), unit: 'ns/op', baseline: median(baseline), ratio: median(ratios) });
}

async function loadMs(path: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < LOAD_ROUNDS; i++) {
    const t0 = performance.now();
    await loadGeoIpDatabase(path);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Heap and array-buffer bytes retained by the default database, after full collections. */
async function retainedBytes(collect: () => void): Promise<{ db: GeoIpDatabase; bytes: number }> {
  const settle = async (): Promise<NodeJS.MemoryUsage> => {
    // Twice, with a turn between: array buffers are released by weak callbacks after the first.
    collect();
    await new Promise((resolve) => setImmediate(resolve));
    collect();
    return process.memoryUsage();
  };
  const before = await settle();
  const db = await loadGeoIpDatabase(defaultDatabasePath());
  const after = await settle();
  return { db, bytes: after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers) };
}

async function main(): Promise<void> {
  const collect = exposeGc();
  const haveXdb = existsSync(XDB_PATH);
  if (!haveXdb) console.error(`geoip bench: ${XDB_PATH} not found; skipping the ip2region.js baseline and the xdb load (set GEOIP_BENCH_XDB)`);

  const { db, bytes: retained } = await retainedBytes(collect);
  const stats = db.stats();
  emit({ metric: 'bytes_per_range', value: stats.byteLength / stats.sourceRangeCount, unit: 'B/range' });
  emit({ metric: 'bytes_per_indexed_range', value: stats.byteLength / stats.indexedRangeCount, unit: 'B/range' });
  emit({ metric: 'heap_bytes_per_range', value: retained / stats.sourceRangeCount, unit: 'B/range' });
  emit({ metric: 'source_ranges', value: stats.sourceRangeCount, unit: 'ranges' });
  emit({ metric: 'indexed_ranges', value: stats.indexedRangeCount, unit: 'ranges' });
  emit({ metric: 'locations', value: stats.locationCount, unit: 'locations' });

  emit({ metric: 'load_gz_ms', value: await loadMs(defaultDatabasePath()), unit: 'ms' });
  if (haveXdb) emit({ metric: 'load_xdb_ms', value: await loadMs(XDB_PATH), unit: 'ms' });

  const next = createSeededU32(0x5eed);
  const ips = new Uint32Array(ADDRESSES);
  for (let i = 0; i < ADDRESSES; i++) ips[i] = next();
  // Flat strings allocated one after the other, as a request decoder produces them (template
  // literals give cons strings, and interleaving other allocations would scatter them in memory).
  const texts = JSON.parse(JSON.stringify(Array.from(ips, formatIpv4))) as string[];
  const buffers = Array.from(ips, (ip) => Buffer.from([ip >>> 24, (ip >>> 16) & 0xff, (ip >>> 8) & 0xff, ip & 0xff]));
  // The same addresses as the bytes of a request message, for a wire-level decoder.
  const wire = Buffer.from(texts.join(''), 'latin1');
  const offsets = new Uint32Array(ADDRESSES + 1);
  texts.forEach((t, i) => (offsets[i + 1] = offsets[i]! + t.length));

  const searcher = haveXdb ? newWithBuffer(IPv4, readFileSync(XDB_PATH)) : undefined;
  const contenders: Timed[] = [
    { run: oursFromText(db, texts), passes: OUR_PASSES },
    { run: oursFromU32(db, ips), passes: OUR_PASSES },
    { run: oursWithPrefix(db, ips), passes: OUR_PASSES },
    { run: oursFromBytes(db, wire, offsets), passes: OUR_PASSES },
  ];
  if (searcher !== undefined) {
    contenders.push({ run: baselineFromText(searcher, texts), passes: 1 }, { run: baselineFromBuffer(searcher, buffers), passes: 1 });
  }
  const [text, u32, prefix, bytes, baseText, baseBuffer] = rounds(contenders, collect);
  compare('lookup_text_ns', text!, baseText);
  compare('lookup_u32_ns', u32!, baseBuffer);
  compare('lookup_with_prefix_ns', prefix!, undefined);
  // Baseline: the searcher from text, not charged the decode of the bytes to a string it needs.
  compare('lookup_wire_bytes_ns', bytes!, baseText);

  if (existsSync(MMDB_PATH)) {
    const mmdb = parseGeoIpDatabase(readFileSync(MMDB_PATH), MMDB_PATH);
    const v6 = Array.from({ length: ADDRESSES }, () => {
      const bytes = new Uint8Array(16);
      // Inside 2001:200::/23 and 2a02::/16, where the test database has networks.
      bytes.set(next() % 2 === 0 ? [0x20, 0x01, 0x02] : [0x2a, 0x02]);
      for (let b = bytes[0] === 0x20 ? 3 : 2; b < 16; b++) bytes[b] = next() & 0xff;
      return formatIpv6(bytes);
    });
    const [mmdbTimes] = rounds([{ run: mmdbFromText(mmdb, v6), passes: 2 }], collect);
    compare('mmdb_lookup_v6_text_ns', mmdbTimes!, undefined);
  }
}

await main();
