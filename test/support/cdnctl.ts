import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '@cdn-sched/testing';

/** The outcome of one `cdnctl` run. */
export interface CdnctlRun {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
  /** `Date.now()` at spawn and at exit. */
  startedAtMs: number;
  exitedAtMs: number;
  /** Each stdout line parsed as JSON (the `--json` output); lines that are not JSON are skipped. */
  json(): Record<string, unknown>[];
}

/**
 * Runs the real operator CLI (`node services/cdnctl/bin/cdnctl.js ...`) as an SRE would, with the
 * endpoints in its environment. Never rejects: the exit code is part of what a test checks.
 */
export function runCdnctl(args: readonly string[], env: Record<string, string>, timeoutMs = 20_000): Promise<CdnctlRun> {
  const bin = join(repoRoot, 'services', 'cdnctl', 'bin', 'cdnctl.js');
  const startedAtMs = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const exitedAtMs = Date.now();
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({
        code,
        stdout,
        stderr,
        startedAtMs,
        exitedAtMs,
        json() {
          const out: Record<string, unknown>[] = [];
          for (const line of stdout.split('\n')) {
            if (!line.startsWith('{')) continue;
            try {
              out.push(JSON.parse(line) as Record<string, unknown>);
            } catch {
              // a human line that happens to start with a brace
            }
          }
          return out;
        },
      });
    });
  });
}
