/**
 * An async iterable of outgoing stream messages that stays open until `signal` aborts: what a
 * bidi gRPC call (etcd Watch, LeaseKeepAlive) reads its requests from. `push` never blocks.
 */
export interface RequestChannel<T> {
  push(message: T): void;
  readonly iterable: AsyncIterable<T>;
}

export function createRequestChannel<T>(signal: AbortSignal): RequestChannel<T> {
  const queue: T[] = [];
  let wake: (() => void) | undefined;
  const onAbort = (): void => wake?.();
  signal.addEventListener('abort', onAbort, { once: true });
  async function* generate(): AsyncGenerator<T> {
    try {
      while (!signal.aborted) {
        while (queue.length > 0) yield queue.shift()!;
        if (signal.aborted) break;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
  return {
    push(message) {
      queue.push(message);
      wake?.();
    },
    iterable: generate(),
  };
}
