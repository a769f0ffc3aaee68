/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  /** Longest a graceful shutdown may take before the process exits anyway, milliseconds. Defaults to 10 s. */
  timeoutMs?: number;
  /** Where progress is reported. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /** Exits the process; injectable for tests. Defaults to process.exit. */
  exit?: (code: number) => void;
  /** Signals that start a shutdown. Defaults to SIGTERM and SIGINT. */
  signals?: readonly NodeJS.Signals[];
}

/** Ordered, bounded teardown of a service. */
export interface Shutdown {
  /** Aborts when shutdown begins: every long-running loop of the service listens to it. */
  readonly signal: AbortSignal;
  /**
   * Registers a step; steps run in reverse order of registration (last started, first stopped),
   * like nested `using` blocks: stop accepting, drain streams, release etcd leases, close clients.
   */
  add(name: string, step: () => Promise<void> | void): void;
  /** Runs every step once; resolves with the exit code (0, or 1 if a step failed or time ran out). */
  run(reason: string): Promise<number>;
  /** Removes the signal handlers (tests). */
  dispose(): void;
}

export function createShutdown(options: ShutdownOptions = {}): Shutdown {
  const controller = new AbortController();
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let running: Promise<number> | undefined;

  const run = (reason: string): Promise<number> => {
    running ??= (async () => {
      log('shutting down', { reason });
      controller.abort(new Error(`shutdown: ${reason}`));
      let code = 0;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
        timer.unref();
      });
      const all = (async () => {
        for (const { name, step } of [...steps].reverse()) {
          try {
            await step();
          } catch (error) {
            code = 1;
            log('shutdown step failed', { step: name, error: String(error) });
          }
        }
      })();
      if ((await Promise.race([all, timedOut])) === 'timeout') {
        code = 1;
        log('shutdown timed out', { timeoutMs });
      }
      clearTimeout(timer);
      return code;
    })();
    return running;
  };

  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const onSignal = (signal: NodeJS.Signals): void => {
    void run(signal).then((code) => exit(code));
  };
  for (const s of signals) process.on(s, onSignal);

  return {
    signal: controller.signal,
    add(name, step) {
      steps.push({ name, step });
    },
    run,
    dispose() {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
