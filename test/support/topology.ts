import type { DomainDoc, EdgeSpec } from '@cdn-sched/local-mesh';

/**
 * The fleet and policies the end-to-end and chaos tests seed: edges in several Chinese provinces and
 * ISPs plus two overseas countries, and domain policies that differ in strategy, fallback chain and
 * all-down policy, so every tier and both overseas outcomes have something to show.
 */

// The shapes of an edge and a domain policy are the local mesh's (shared with `cdnctl mesh`).
export type { DomainDoc, EdgeSpec } from '@cdn-sched/local-mesh';

/** Three Guangdong Telecom edges, so one of them can fail and the tier stays above the spill threshold. */
export const EDGES: readonly EdgeSpec[] = [
  { id: 'gd-ct-1', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 },
  { id: 'gd-ct-2', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 },
  { id: 'gd-ct-3', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1000 },
  { id: 'gd-cu-1', country: 'CN', region: 'CN-GD', isp: 'cu', capacity: 1500 },
  { id: 'bj-cu-1', country: 'CN', region: 'CN-BJ', isp: 'cu', capacity: 2000 },
  { id: 'bj-ct-1', country: 'CN', region: 'CN-BJ', isp: 'ct', capacity: 1000 },
  { id: 'sh-ct-1', country: 'CN', region: 'CN-SH', isp: 'ct', capacity: 2000 },
  { id: 'sc-cm-1', country: 'CN', region: 'CN-SC', isp: 'cm', capacity: 1000 },
  { id: 'us-1', country: 'US', capacity: 3000 },
  { id: 'jp-1', country: 'JP', capacity: 2000 },
];

export const MUSIC = 'music.e2e.example';
export const VIDEO = 'video.e2e.example';
export const LIVE = 'live.e2e.example';

/**
 * - music: weighted, the full chain down to `any`: an overseas client without a local edge still
 *   gets an answer from the tier `any`, not degraded.
 * - video: consistent, no `any` and all-down `error`: such a client gets UNAVAILABLE.
 * - live: weighted, no `any` but all-down `best-effort`: such a client gets a degraded answer from
 *   outside the chain.
 */
export const DOMAINS: readonly DomainDoc[] = [
  { domain: MUSIC, pool: 'music', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'region', 'isp+country', 'country', 'any'], allDown: 'best-effort' },
  { domain: VIDEO, pool: 'video', answers: 2, ttl: 30, strategy: 'consistent', fallback: ['isp+region', 'region', 'country'], allDown: 'error' },
  { domain: LIVE, pool: 'live', answers: 1, ttl: 20, strategy: 'weighted', fallback: ['isp+region', 'region', 'country'], allDown: 'best-effort' },
];

/** A client address and where the shipped ip2region data places it (checked with `@cdn-sched/geoip`). */
export interface ClientSpec {
  ip: string;
  country: string;
  region: string;
  isp: string;
}

export const CLIENTS = {
  gdCt: { ip: '1.0.8.1', country: 'CN', region: 'CN-GD', isp: 'ct' },
  gdCt2: { ip: '113.108.0.1', country: 'CN', region: 'CN-GD', isp: 'ct' },
  gdCu: { ip: '58.248.0.1', country: 'CN', region: 'CN-GD', isp: 'cu' },
  gdCm: { ip: '120.196.0.1', country: 'CN', region: 'CN-GD', isp: 'cm' },
  bjCu: { ip: '123.125.114.144', country: 'CN', region: 'CN-BJ', isp: 'cu' },
  bjCt: { ip: '36.110.0.1', country: 'CN', region: 'CN-BJ', isp: 'ct' },
  shCt: { ip: '202.96.209.133', country: 'CN', region: 'CN-SH', isp: 'ct' },
  scCm: { ip: '183.221.0.1', country: 'CN', region: 'CN-SC', isp: 'cm' },
  scCu: { ip: '119.6.0.1', country: 'CN', region: 'CN-SC', isp: 'cu' },
  sdCu: { ip: '221.3.0.1', country: 'CN', region: 'CN-SD', isp: 'cu' },
  hnCt: { ip: '175.0.0.1', country: 'CN', region: 'CN-HN', isp: 'ct' },
  us: { ip: '8.8.8.8', country: 'US', region: '', isp: 'level3' },
  jp: { ip: '133.242.0.1', country: 'JP', region: '', isp: '' },
  de: { ip: '85.214.0.1', country: 'DE', region: '', isp: '' },
} as const satisfies Record<string, ClientSpec>;

/** A mix of clients of every location and of the two answering domains, for traffic replays. */
export const REPLAY_QUERIES: readonly { clientIp: string; domain: string }[] = Object.values(CLIENTS).flatMap((c) => [
  { clientIp: c.ip, domain: MUSIC },
  ...(c.country === 'DE' ? [] : [{ clientIp: c.ip, domain: LIVE }]),
]);
