import type { MessageInitShape } from '@bufbuild/protobuf';
import { serviceDefinitions, type ResolveResponse, type ResolveStreamRequestSchema } from '@cdn-sched/proto';
import { createChannel, createClient, type Channel } from 'nice-grpc';
import { createPushQueue } from '@cdn-sched/stream';
import type { ReplayQuery } from './replay.js';

/** A ResolveStream batch as the client sends it. */
type BatchInit = MessageInitShape<typeof ResolveStreamRequestSchema>;

/** One answer as the watch saw it. */
export interface WatchedAnswer {
  /** `Date.now()` when the response arrived. */
  atMs: number;
  nodeIds: ReadonlySet<string>;
  response: ResolveResponse;
}

/** Options of {@link startAnswerWatch}. */
export interface AnswerWatchOptions {
  /** Resolver address. */
  target: string;
  query: ReplayQuery;
  /** Pause between an answer and the next question, milliseconds. Defaults to 2. */
  gapMs?: number;
  /** Opens the channel (a test with mutual TLS passes its transport's). Defaults to plaintext. */
  connect?(target: string): Channel;
}

/** A running answer watch. */
export interface AnswerWatch {
  /** Answers received so far. */
  readonly rounds: number;
  /** How many of the answers received from `fromMs` to `toMs` (`Date.now()` values, inclusive) satisfy `predicate` (the last 4,000 or more answers are kept). */
  count(predicate: (a: WatchedAnswer) => boolean, fromMs: number, toMs: number): number;
  /**
   * The first answer received at or after `afterMs` (a `Date.now()` value) that satisfies
   * `predicate`, including answers already received; rejects after `timeoutMs`.
   */
  waitFor(predicate: (a: WatchedAnswer) => boolean, options: { afterMs: number; timeoutMs: number; message?: string }): Promise<WatchedAnswer>;
  close(): Promise<void>;
}

/**
 * Asks one question over and over on one ResolveStream, each as soon as the previous answer came
 * back (plus `gapMs`), to time when an answer changes with a resolution of a few milliseconds —
 * e.g. when a drained node stops being answered. Each question asks for as many answers as the
 * tier has nodes, so a node's presence does not depend on the weighted draw.
 */
export function startAnswerWatch(options: AnswerWatchOptions): AnswerWatch {
  const channel = options.connect ? options.connect(options.target) : createChannel(options.target);
  const client = createClient(serviceDefinitions.resolver, channel);
  const gapMs = options.gapMs ?? 2;
  const history: WatchedAnswer[] = [];
  const waiters = new Set<{ predicate: (a: WatchedAnswer) => boolean; afterMs: number; resolve: (a: WatchedAnswer) => void }>();
  const requests = createPushQueue<BatchInit>();
  const abort = new AbortController();
  let id = 0n;
  let rounds = 0;
  let failure: unknown;

  const ask = (): void => requests.push({ queries: [{ queryId: ++id, clientIp: options.query.clientIp, domain: options.query.domain, answers: options.query.answers ?? 0 }] });
  const loop = (async () => {
    ask();
    try {
      for await (const batch of client.resolveStream(requests, { signal: abort.signal })) {
        const d = batch.decisions[0];
        if (d?.result.case !== 'response') throw new Error(`answer watch: ${d?.result.case === 'error' ? d.result.value.message : 'empty batch'}`);
        const seen: WatchedAnswer = { atMs: Date.now(), nodeIds: new Set(d.result.value.answers.map((a) => a.nodeId)), response: d.result.value };
        rounds++;
        history.push(seen);
        if (history.length > 5000) history.splice(0, 1000);
        for (const w of waiters) {
          if (seen.atMs < w.afterMs || !w.predicate(seen)) continue;
          waiters.delete(w);
          w.resolve(seen);
        }
        setTimeout(ask, gapMs);
      }
    } catch (error) {
      if (!abort.signal.aborted) failure = error;
    }
  })();

  return {
    get rounds() {
      return rounds;
    },
    count(predicate, fromMs, toMs) {
      let n = 0;
      for (const a of history) if (a.atMs >= fromMs && a.atMs <= toMs && predicate(a)) n++;
      return n;
    },
    waitFor(predicate, { afterMs, timeoutMs, message }) {
      const seen = history.find((a) => a.atMs >= afterMs && predicate(a));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = {
          predicate,
          afterMs,
          resolve: (a: WatchedAnswer) => {
            clearTimeout(timer);
            resolve(a);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(w);
          const last = history.at(-1);
          reject(new Error(`answer watch: no answer matching ${message ?? 'the predicate'} within ${timeoutMs} ms${failure ? ` (stream failed: ${String(failure)})` : ''}; last answer ${last ? [...last.nodeIds].join(',') : 'none'}`));
        }, timeoutMs);
        waiters.add(w);
      });
    },
    async close() {
      abort.abort();
      requests.end();
      await loop;
      channel.close();
    },
  };
}
