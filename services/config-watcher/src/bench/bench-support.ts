// What the config-watcher benchmarks share: the result line, quantiles, the node document they put,
// and a Watch client that records when each put arrived.
import { createConfigConsumer } from '@cdn-sched/stream';

/** Prints one result line (the JSON `tools/bench.mjs` collects). */
export function emit(metric: string, value: number, unit: string, extra: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ bench: 'config-watcher', metric, value: Math.round(value * 1000) / 1000, unit, ...extra }));
}

/** The `q` quantile (nearest rank) of `xs`. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

/** A node document whose `capacity` tells the puts apart. */
export function nodeDocument(id: string, capacity = 1000): string {
  return JSON.stringify({ id, address: '127.0.0.1', port: 8080, country: 'CN', region: 'CN-GD', isp: 'ct', capacity, state: 'active', pools: ['music'] });
}

/** A Watch client on `target` and when (performance.now()) each node capacity was applied by it. */
export async function startArrivalRecorder(target: string): Promise<{ consumer: ReturnType<typeof createConfigConsumer>; applied: Map<number, number> }> {
  const applied = new Map<number, number>();
  const consumer = createConfigConsumer({
    target,
    consumerId: 'bench',
    onApplied(update) {
      const t = performance.now();
      for (const c of update.changes) if (c.value?.kind === 'node') applied.set(c.value.node.capacityRps, t);
    },
  });
  await consumer.ready();
  return { consumer, applied };
}
