/** Milliseconds per unit accepted by {@link parseDuration}. */
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)/y;

/**
 * Parses a duration flag into milliseconds: `500ms`, `30s`, `2m`, `1h`, compounds such as `1m30s`,
 * and plain numbers, which are seconds (`90` = 90 s, `0.5` = 500 ms).
 *
 * @returns the duration in whole milliseconds (rounded), never negative.
 * @throws Error naming the text and the accepted forms when it does not parse.
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^(\d+(\.\d+)?|\.\d+)$/.test(s)) return Math.round(Number(s) * 1000);
  let ms = 0;
  let at = 0;
  PART.lastIndex = 0;
  while (at < s.length) {
    PART.lastIndex = at;
    const m = PART.exec(s);
    if (!m) break;
    ms += Number(m[1]) * UNIT_MS[m[2]!]!;
    at = PART.lastIndex;
  }
  if (s === '' || at !== s.length) {
    throw new Error(`'${text}' is not a duration (expected e.g. 500ms, 30s, 2m, 1h, 1m30s, or a number of seconds)`);
  }
  return Math.round(ms);
}

/** Formats milliseconds for people: `850 ms`, `12.5 s`, `3 m 20 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(Math.round(ms / 100) / 10).toString()} s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms - m * 60_000) / 1000);
  return s === 0 ? `${m} m` : `${m} m ${s} s`;
}
