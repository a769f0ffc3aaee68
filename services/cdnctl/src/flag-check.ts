import { CliError, type ParsedArgs } from './args.js';

/** Every `--flag` named in a usage or help text. */
export function flagsIn(text: string): string[] {
  return [...text.matchAll(/--([a-z][a-z0-9-]*)/g)].map((m) => m[1]!);
}

/**
 * Edit distance with insertions, deletions, substitutions and transpositions of two adjacent
 * characters (optimal string alignment), for "did you mean": `--jsno` is one slip from `--json`.
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known flag nearest to `flag`, if it is near enough to be a typo: at most 2 edits, and fewer
 * than half the flag's length (so `--x` does not suggest `--json`). Ties go to the first in `known`.
 */
export function nearestFlag(flag: string, known: Iterable<string>): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(flag, name);
    if (distance <= 2 && distance * 2 < Math.max(flag.length, name.length) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

/**
 * Refuses a flag the command does not know (a usage error, exit 2) instead of ignoring it: a typo
 * such as `--answer 3` must not silently give the default. Names the nearest known flag.
 */
export function checkFlags(args: ParsedArgs, known: ReadonlySet<string>, commandName: string): void {
  for (const flag of args.flags.keys()) {
    if (known.has(flag)) continue;
    const near = nearestFlag(flag, known);
    throw new CliError(`unknown flag --${flag}${near ? `; did you mean --${near}?` : ''} (see cdnctl ${commandName} --help)`, 2);
  }
}
