import { lookup as dnsLookup } from 'node:dns/promises';

/** One weight-calculator replica to report to. */
export interface ReportTarget {
  /** `host:port` dialled. */
  target: string;
  /** Name its certificate carries, when `target` is an address found through DNS. */
  serverName?: string;
}

/** Options of {@link createReportTargets}. */
export interface ReportTargetsOptions {
  /** WEIGHT_CALCULATORS entries: `host:port`, or `dns:///name:port` for every address of the name. */
  entries: readonly string[];
  /** How often `dns:///` names are resolved again, milliseconds. Defaults to 5000. */
  resolveIntervalMs?: number;
  /** Called with the whole set after every change (and once with the first set). */
  onChange(targets: readonly ReportTarget[]): void;
  onError?(entry: string, error: Error): void;
  /** Address lookup (all addresses of a name). Defaults to `dns.lookup` with `all: true` (/etc/hosts, then DNS). */
  lookup?(name: string): Promise<readonly string[]>;
}

/** The running expansion. */
export interface ReportTargets {
  readonly current: readonly ReportTarget[];
  close(): void;
}

const DNS_PREFIX = 'dns:///';

/**
 * Expands WEIGHT_CALCULATORS into the replicas a prober reports to. Every replica must get every
 * result (a standby that missed them would take over blind), so a `dns:///` name — one Kubernetes
 * headless Service over all replicas — becomes one target per address, re-resolved so that new
 * replicas are added and gone ones removed; a failed lookup keeps the last known addresses. gRPC's
 * own `dns:///` resolution would instead pick one address per stream (round_robin), reaching one
 * replica only.
 */
export function createReportTargets(options: ReportTargetsOptions): ReportTargets {
  const intervalMs = options.resolveIntervalMs ?? 5000;
  const lookup = options.lookup ?? (async (name: string) => (await dnsLookup(name, { all: true })).map((a) => (a.family === 6 ? `[${a.address}]` : a.address)));
  const fixed: ReportTarget[] = [];
  const names: { entry: string; host: string; port: string }[] = [];
  for (const entry of options.entries) {
    if (!entry.startsWith(DNS_PREFIX)) {
      fixed.push({ target: entry });
      continue;
    }
    const hostPort = entry.slice(DNS_PREFIX.length);
    const colon = hostPort.lastIndexOf(':');
    if (colon <= 0) throw new Error(`WEIGHT_CALCULATORS: "${entry}" needs a port (dns:///name:port)`);
    names.push({ entry, host: hostPort.slice(0, colon), port: hostPort.slice(colon + 1) });
  }
  const known = new Map<string, ReportTarget[]>();
  let current: ReportTarget[] = [...fixed];
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const publish = (): void => {
    const next = [...fixed, ...[...known.values()].flat()];
    const key = (list: readonly ReportTarget[]): string => list.map((t) => t.target).sort().join(',');
    if (key(next) === key(current) && current.length > 0) return;
    current = next;
    options.onChange(current);
  };
  const resolveAll = async (): Promise<void> => {
    for (const n of names) {
      try {
        const addresses = [...new Set(await lookup(n.host))].sort();
        known.set(n.entry, addresses.map((a) => ({ target: `${a}:${n.port}`, serverName: n.host })));
      } catch (error) {
        options.onError?.(n.entry, error as Error);
      }
    }
    if (!closed) publish();
  };
  const loop = async (): Promise<void> => {
    await resolveAll();
    if (!closed && names.length > 0) timer = setTimeout(() => void loop(), intervalMs);
  };
  if (names.length === 0) options.onChange(current);
  else void loop();
  return {
    get current() {
      return current;
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
