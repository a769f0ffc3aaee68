/** An async iterable fed by `push`: the request side of a client stream. */
export interface PushQueue<T> extends AsyncIterable<T> {
  push(value: T): void;
  /** Ends the iteration once the queued values are taken (the client half-closes the stream). */
  end(): void;
}

/**
 * Creates an unbounded push queue. Unbounded is safe here: each worker pushes one batch and waits
 * for its answer before the next, so at most one value waits per stream.
 */
export function createPushQueue<T>(): PushQueue<T> {
  const values: T[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  return {
    push(value) {
      if (ended) throw new Error('push after end');
      values.push(value);
      notify();
    },
    end() {
      ended = true;
      notify();
    },
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (values.length > 0) yield values.shift()!;
        else if (ended) return;
        else await new Promise<void>((resolve) => (wake = resolve));
      }
    },
  };
}
