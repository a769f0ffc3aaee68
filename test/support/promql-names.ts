/**
 * Metric names a PromQL expression reads. Good enough for our own expressions: label matchers,
 * strings, grouping clauses and range selectors are removed, and what is left of the identifiers
 * with a metric prefix of this project (cdn_, nodejs_, process_) are metric names. Prometheus'
 * own series (`up`) and functions are not metric names of ours and are left out.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    if (/^(?:cdn|nodejs|process)_/.test(m[0])) names.add(m[0]);
  }
  return [...names];
}
