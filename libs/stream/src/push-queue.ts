/** An async iterable fed by `push`: the request side of a client or bidi gRPC stream. */
export interface PushQueue<T> extends AsyncIterable<T> {
  /** Queues a value; a value pushed after `end()` is dropped (the stream is closing anyway). */
  push(value: T): void;
  /** Ends the iteration once the queued values are taken (the client half-closes the stream). */
  end(): void;
}

/**
 * An unbounded push queue. Its users bound it themselves: a traffic sender pushes one batch and
 * waits for its answer before the next, a replay decides the rate; grpc-js takes values as it can
 * write them. Ending it releases the waiting consumer.
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
      if (ended) return;
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
