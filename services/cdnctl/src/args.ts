// The command line itself: parsed without loading anything a command needs (gRPC, etcd, TLS), so
// `cdnctl --help` and usage errors answer at once.

/** Parsed command line: positionals and `--flag value` / `--flag=value` / boolean `--flag`. */
export interface ParsedArgs {
  positionals: string[];
  flags: Map<string, string | true>;
}

/** Flags that never take a value. */
const BOOLEAN_FLAGS = new Set(['json', 'help', 'watch', 'keep', 'no-demo', 'unary', 'tls', 'any-ports']);

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-h') flags.set('help', true);
    else if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq === -1 ? undefined : eq);
      if (eq !== -1) flags.set(name, a.slice(eq + 1));
      else if (BOOLEAN_FLAGS.has(name) || argv[i + 1] === undefined || argv[i + 1]!.startsWith('--')) flags.set(name, true);
      else flags.set(name, argv[++i]!);
    } else positionals.push(a);
  }
  return { positionals, flags };
}

/** A failure the CLI reports as one line and a non-zero exit (2 = usage, 1 = the request failed). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
