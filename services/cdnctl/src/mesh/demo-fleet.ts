import type { DomainDoc, EdgeSpec } from '@cdn-sched/local-mesh';

/**
 * The demo fleet `npm start` seeds: edges across Chinese provinces and ISPs (电信 ct, 联通 cu,
 * 移动 cm) plus a few overseas, so every fallback tier has something to show. The first two are
 * the Guangdong Telecom edges the README's walkthrough resolves 1.0.8.1 to.
 */
export const DEMO_EDGES: readonly EdgeSpec[] = [
  { id: 'gd-ct-1', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1500 },
  { id: 'gd-ct-2', country: 'CN', region: 'CN-GD', isp: 'ct', capacity: 1500 },
  { id: 'gd-cu-1', country: 'CN', region: 'CN-GD', isp: 'cu', capacity: 1500 },
  { id: 'gd-cm-1', country: 'CN', region: 'CN-GD', isp: 'cm', capacity: 1500 },
  { id: 'bj-cu-1', country: 'CN', region: 'CN-BJ', isp: 'cu', capacity: 2000 },
  { id: 'bj-ct-1', country: 'CN', region: 'CN-BJ', isp: 'ct', capacity: 1000 },
  { id: 'sh-ct-1', country: 'CN', region: 'CN-SH', isp: 'ct', capacity: 2000 },
  { id: 'sh-cm-1', country: 'CN', region: 'CN-SH', isp: 'cm', capacity: 1000 },
  { id: 'zj-ct-1', country: 'CN', region: 'CN-ZJ', isp: 'ct', capacity: 1000 },
  { id: 'js-cu-1', country: 'CN', region: 'CN-JS', isp: 'cu', capacity: 1000 },
  { id: 'sc-cm-1', country: 'CN', region: 'CN-SC', isp: 'cm', capacity: 1000 },
  { id: 'hb-ct-1', country: 'CN', region: 'CN-HB', isp: 'ct', capacity: 1000 },
  { id: 'us-1', country: 'US', capacity: 3000 },
  { id: 'jp-1', country: 'JP', capacity: 2000 },
  { id: 'de-1', country: 'DE', capacity: 2000 },
];

/** The demo domain policies. */
export const DEMO_DOMAINS: readonly DomainDoc[] = [
  { domain: 'music.demo.example', pool: 'music', answers: 1, ttl: 60, strategy: 'weighted', fallback: ['isp+region', 'region', 'isp+country', 'country', 'any'], allDown: 'best-effort' },
  { domain: 'video.demo.example', pool: 'video', answers: 2, ttl: 30, strategy: 'consistent', fallback: ['isp+region', 'region', 'country', 'any'], allDown: 'best-effort' },
];

/** Client IPs of the built-in traffic replay, one or more per demo location (ip2region data). */
export const DEMO_CLIENTS: readonly string[] = [
  '1.0.8.1', // CN-GD ct
  '202.96.128.86', // CN-GD ct
  '58.248.0.1', // CN-GD cu
  '120.196.0.1', // CN-GD cm
  '123.125.114.144', // CN-BJ cu
  '202.96.209.133', // CN-SH ct
  '117.136.0.1', // cm
  '61.153.0.1', // CN-ZJ ct
  '221.6.0.1', // CN-JS cu
  '183.221.0.1', // CN-SC cm
  '8.8.8.8', // US
  '133.242.0.1', // JP
  '85.214.0.1', // DE
];
