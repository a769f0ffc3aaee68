/**
 * Domain-name helpers on presentation text. Names are compared in lower case without the trailing
 * dot: DNS names are case-insensitive (RFC 4343), and the question is echoed from the query's own
 * bytes, so folding here never changes what the client sees (0x20 randomisation keeps working).
 */

/** Lower case, no trailing dot; the root is the empty string. */
export function canonicalName(name: string): string {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  return n.toLowerCase();
}

/** The parent of `name` (canonical form), or undefined for a one-label name and the root. */
export function parentName(name: string): string | undefined {
  const dot = name.indexOf('.');
  return dot < 0 ? undefined : name.slice(dot + 1);
}

/** True when `name` is `ancestor` or below it (both canonical). */
export function isAtOrBelow(name: string, ancestor: string): boolean {
  if (ancestor === '') return true;
  return name === ancestor || (name.length > ancestor.length && name.endsWith(ancestor) && name.charCodeAt(name.length - ancestor.length - 1) === 46);
}

/** `label` relative to `zone` unless it ends with a dot (then it is absolute). */
export function qualify(label: string, zone: string): string {
  if (label.endsWith('.')) return canonicalName(label);
  return zone === '' ? canonicalName(label) : `${canonicalName(label)}.${zone}`;
}
