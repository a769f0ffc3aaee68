/** An async iterable fed by `push`, for the request side of a bidi stream. */
export interface PushQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  /** Ends the iteration once the queued values are consumed. */
  end(): void;
}

/**
 * A minimal unbounded queue as an async iterable: the replay decides the rate, so the queue only
 * hands values to grpc-js as it asks for them. Ending it (or abandoning the iteration) releases
 * the waiting consumer.
 */
export function createPushQueue<T>(): PushQueue<T> {
  const items: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(value) {
      if (ended) return;
      items.push(value);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      while (true) {
        if (items.length > 0) {
          yield items.shift()!;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
