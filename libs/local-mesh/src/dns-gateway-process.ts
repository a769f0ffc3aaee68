import { startServiceProcess, type ServiceProcess } from '@cdn-sched/local-processes';

/** Settings of the mesh's dns-gateway. */
export interface MeshDnsGatewayOptions {
  /** DNS port (UDP and TCP) on 127.0.0.1. Defaults to 0 (the kernel chooses). */
  dnsPort?: number;
  /** Port of /metrics and /readyz. Defaults to 0. */
  metricsPort?: number;
  /** Extra settings (DNS_WORKERS, CACHE_MAX_ENTRIES, ...). */
  env?: Record<string, string>;
  /** Bound of the start, milliseconds (several workers each load the service: give them longer). Defaults to 30 000. */
  startTimeoutMs?: number;
}

/** The mesh's dns-gateway process. */
export interface MeshDnsGateway {
  readonly process: ServiceProcess;
  /** `127.0.0.1` */
  readonly host: string;
  readonly dnsPort: number;
  /** `http://127.0.0.1:<port>` of /metrics and /readyz. */
  readonly metricsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts a dns-gateway (one worker, as the local mesh runs every service) in front of the mesh's
 * resolvers, learning its domains from the config-watcher. It has no gRPC server: it is judged
 * by its /readyz and by DNS itself.
 */
export async function startMeshDnsGateway(options: MeshDnsGatewayOptions & { common: Record<string, string>; configWatcher: string; resolvers: readonly string[] }): Promise<MeshDnsGateway> {
  const process = await startServiceProcess({
    service: 'dns-gateway',
    env: {
      ...options.common,
      INSTANCE_ID: 'dns-gateway-1',
      LOG_LEVEL: 'info',
      CONFIG_WATCHER: options.configWatcher,
      RESOLVERS: options.resolvers.join(','),
      DNS_HOST: '127.0.0.1',
      DNS_PORT: String(options.dnsPort ?? 0),
      METRICS_PORT: String(options.metricsPort ?? 0),
      DNS_WORKERS: '1',
      NS_ADDRESSES: '127.0.0.1',
      ...options.env,
    },
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
  });
  const listening = await process.waitForLog('dns-gateway listening');
  const metrics = await process.waitForLog('metrics server listening');
  return {
    process,
    host: '127.0.0.1',
    dnsPort: Number(listening['udpPort']),
    metricsUrl: String(metrics['metrics']),
    close: async () => {
      await process.stop();
    },
  };
}
