import type { FakeNode } from '@cdn-sched/local-processes';

/** One edge of a local mesh: where it is and how big. Its address, port and probe path come from the fake fleet. */
export interface EdgeSpec {
  id: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** ISO 3166-2 (`CN-GD`); omitted (or empty) for edges outside China. */
  region?: string;
  /** ISP code (`ct`); omitted (or empty) when the edge has none. */
  isp?: string;
  capacity: number;
  /** Defaults to every pool of the mesh's domains. */
  pools?: readonly string[];
}

/** A domain document exactly as an SRE writes it under `/cdn/domains/<fqdn>`. */
export interface DomainDoc {
  domain: string;
  pool: string;
  answers: number;
  ttl: number;
  strategy: 'weighted' | 'consistent';
  fallback: readonly string[];
  allDown?: 'best-effort' | 'error';
}

/** How the fleet's edges are probed, as written into their node documents. */
export interface ProbeSettings {
  intervalMs: number;
  timeoutMs: number;
}

/**
 * The node document of `edge`, served by fake node `node`, with an HTTP health check on the fake
 * node's path; `overrides` replace fields (a test drains an edge with `{ state: 'drain' }`).
 */
export function nodeDocument(
  edge: EdgeSpec,
  node: FakeNode,
  defaultPools: readonly string[],
  probe: ProbeSettings,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id: edge.id,
    address: node.address,
    port: node.port,
    country: edge.country,
    ...(edge.region ? { region: edge.region } : {}),
    ...(edge.isp ? { isp: edge.isp } : {}),
    capacity: edge.capacity,
    state: 'active',
    pools: edge.pools ?? defaultPools,
    probe: { type: 'http', path: node.path, intervalMs: probe.intervalMs, timeoutMs: probe.timeoutMs },
    ...overrides,
  };
}
