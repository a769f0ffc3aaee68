/**
 * Event-loop windows of a real resolver process, for slow-start.bench.ts. Loaded before the
 * service with `node --import <this file> … services/resolver/dist/main.js`, so the service runs
 * unchanged (its own main.ts, settings, metrics and handlers) while the benchmark cuts its run
 * into windows: each SIGUSR2 ends the current window and starts the next, and the window just
 * ended is printed on stdout as one JSON line with `msg` "bench loop window <n>" (windows count
 * from 0: the one before the first signal), which the process launcher (libs/local-processes)
 * parses like the service's own log lines.
 *
 * A window reports the event-loop delay (Node's `monitorEventLoopDelay`, sampled every
 * ELD_RESOLUTION_MS as libs/telemetry does for the `nodejs_event_loop_delay_*` gauges, given as the
 * lateness beyond the sampling period), the process's CPU time and its GC pauses.
 *
 * With BENCH_LOOP_PROFILE_DIR set, window BENCH_LOOP_PROFILE_WINDOW (default 1) is also recorded
 * with V8's sampling profiler (the inspector's `Profiler` domain, in this thread) and written to
 * `<dir>/resolver-window-<n>-<pid>.cpuprofile`: a profile of exactly that window rather than of the
 * whole process life, start-up included, sampled every BENCH_LOOP_PROFILE_INTERVAL_US µs (V8's default when unset).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { ELD_RESOLUTION_MS, inspectorPost } from './bench-protocol.js';

const profileDir = process.env['BENCH_LOOP_PROFILE_DIR'] ?? '';
const profileWindow = Number(process.env['BENCH_LOOP_PROFILE_WINDOW'] ?? 1);
/**
 * The profiler's sampling interval, µs, when set (V8's default, 1,000, is too coarse to see which
 * work made a 2 ms stall). At 100 the profiler's signals also wake the loop: such a profile shows
 * the long turns but does not measure the loop delay (docs/benchmarks.md, twenty-eighth session).
 */
const profileIntervalUs = process.env['BENCH_LOOP_PROFILE_INTERVAL_US'];

const delay = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
delay.enable();
const gc = { count: 0, totalMs: 0, maxMs: 0, minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gc.count++;
    gc.totalMs += entry.duration;
    if (entry.duration > gc.maxMs) gc.maxMs = entry.duration;
    // Scavenges (young generation) and mark-compacts (the whole heap) have different causes.
    const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) {
      gc.minorCount++;
      gc.minorMs += entry.duration;
    } else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
      gc.majorCount++;
      gc.majorMs += entry.duration;
    }
  }
}).observe({ entryTypes: ['gc'] });

let index = 0;
let startedAt = performance.now();
let cpuAtStart = process.cpuUsage();
let session: Session | undefined;

/** The histogram holds whole sampling periods (the timer's interval plus its lateness): the lateness, ms. */
const beyond = (ns: number): number => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
const round3 = (x: number): number => Math.round(x * 1000) / 1000;

const post = <T>(method: string, params?: object): Promise<T> => inspectorPost<T>(session!, method, params);

async function startProfile(): Promise<void> {
  session = new Session();
  session.connect();
  await post('Profiler.enable');
  if (profileIntervalUs) await post('Profiler.setSamplingInterval', { interval: Number(profileIntervalUs) });
  await post('Profiler.start');
}

async function stopProfile(window: number): Promise<string> {
  const { profile } = await post<{ profile: object }>('Profiler.stop');
  session!.disconnect();
  session = undefined;
  const file = join(profileDir, `resolver-window-${window}-${process.pid}.cpuprofile`);
  // The directory may not exist yet: BENCH_CPU_PROF names it, and nothing else need have made it.
  await mkdir(profileDir, { recursive: true });
  await writeFile(file, JSON.stringify(profile));
  return file;
}

/** The figures of the window now ending (taken before anything else runs: writing a profile takes time). */
function windowFigures(window: number): Record<string, unknown> {
  const cpu = process.cpuUsage(cpuAtStart);
  return {
    msg: `bench loop window ${window}`,
    wallMs: round3(performance.now() - startedAt),
    cpuMs: round3((cpu.user + cpu.system) / 1000),
    samples: delay.count,
    eldP50Ms: round3(delay.count > 0 ? beyond(delay.percentile(50)) : 0),
    eldP99Ms: round3(delay.count > 0 ? beyond(delay.percentile(99)) : 0),
    eldP999Ms: round3(delay.count > 0 ? beyond(delay.percentile(99.9)) : 0),
    eldMaxMs: round3(delay.count > 0 ? beyond(delay.max) : 0),
    gcCount: gc.count,
    gcTotalMs: round3(gc.totalMs),
    gcMaxMs: round3(gc.maxMs),
    gcMinorCount: gc.minorCount,
    gcMinorMs: round3(gc.minorMs),
    gcMajorCount: gc.majorCount,
    gcMajorMs: round3(gc.majorMs),
  };
}

const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);

process.on('SIGUSR2', () => {
  const ended = index++;
  const figures = windowFigures(ended);
  delay.reset();
  Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0, minorCount: 0, minorMs: 0, majorCount: 0, majorMs: 0 });
  startedAt = performance.now();
  cpuAtStart = process.cpuUsage();
  if (session !== undefined) void stopProfile(ended).then((profile) => print({ ...figures, profile }));
  else print(figures);
  if (profileDir !== '' && index === profileWindow) void startProfile();
});
