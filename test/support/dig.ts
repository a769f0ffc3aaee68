import { execFile } from 'node:child_process';

/** One record line of dig's output. */
export interface DigRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

/** What dig printed, parsed. */
export interface DigResult {
  status: string;
  flags: string[];
  answers: DigRecord[];
  authority: DigRecord[];
  /** `CLIENT-SUBNET: address/source/scope` of the reply's OPT pseudo-section. */
  clientSubnet: { address: string; source: number; scope: number } | undefined;
  /** Replies dig says it got truncated (`;; Truncated, retrying in TCP mode.`). */
  retriedOverTcp: boolean;
  /** Message size of the reply (`;; MSG SIZE  rcvd: N`). */
  size: number;
  raw: string;
}

function section(out: string, title: string): DigRecord[] {
  const start = out.indexOf(`;; ${title} SECTION:`);
  if (start < 0) return [];
  const lines = out.slice(start).split('\n').slice(1);
  const records: DigRecord[] = [];
  for (const line of lines) {
    if (line.trim() === '') break;
    const [name, ttl, , type, ...rest] = line.split(/\s+/);
    records.push({ name: name!, ttl: Number(ttl), type: type!, data: rest.join(' ') });
  }
  return records;
}

/**
 * Runs the real `dig` (Debian `bind9-dnsutils`) against `server:port` and parses its default
 * output. `args` are dig's own (`+subnet=1.0.8.0/24`, `+tcp`, `MX`).
 */
export function dig(server: string, port: number, name: string, args: readonly string[] = [], timeoutMs = 15_000): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', [`@${server}`, '-p', String(port), name, '+tries=1', '+time=4', ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout) => {
      if (error && !stdout) return reject(new Error(`dig failed: ${error.message} (Debian: apt-get install bind9-dnsutils)`));
      const subnet = /CLIENT-SUBNET: ([0-9a-f.:]+)\/(\d+)\/(\d+)/i.exec(stdout);
      resolve({
        status: /status: (\w+)/.exec(stdout)?.[1] ?? 'NO-REPLY',
        flags: (/;; flags: ([a-z ]*);/.exec(stdout)?.[1] ?? '').trim().split(/\s+/).filter(Boolean),
        answers: section(stdout, 'ANSWER'),
        authority: section(stdout, 'AUTHORITY'),
        clientSubnet: subnet ? { address: subnet[1]!, source: Number(subnet[2]), scope: Number(subnet[3]) } : undefined,
        retriedOverTcp: stdout.includes('Truncated, retrying in TCP mode'),
        size: Number(/MSG SIZE\s+rcvd: (\d+)/.exec(stdout)?.[1] ?? 0),
        raw: stdout,
      });
    });
  });
}
