/**
 * The small toolkit the document validators are written with: rules that accept a JSON value or
 * say what is wrong with it, and a reader that applies them to the fields of one object and
 * collects every problem as "<path>: <problem>", so one pass reports all mistakes of a document.
 */

/** What a rule says about a value: accepted (possibly converted), or a problem for a person. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A validation rule for one JSON value. */
export interface Rule<T> {
  /** What an accepted value looks like ("a number > 0"), used in "must be …" and "required, …". */
  readonly expected: string;
  /** Accepts the value or returns a problem: the text that follows "<path>: ". */
  check(value: unknown): Checked<T>;
}

/** An accepted value. */
export function accept<T>(value: T): Checked<T> {
  return { ok: true, value };
}

/** A problem with a value, phrased by the rule ("must be upper case, got ..."). */
export function reject(problem: string): Checked<never> {
  return { ok: false, problem };
}

const MAX_SHOWN = 48;

/**
 * A value as it appears in a reason: strings quoted, others as JSON, cut at 48 characters so a
 * reason stays one readable line whatever was pasted into the document.
 */
export function describeValue(value: unknown): string {
  let shown: string;
  if (typeof value === 'number') shown = String(value);
  else if (value === undefined) shown = 'nothing';
  else shown = JSON.stringify(value) ?? String(value);
  return shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN - 3)}...` : shown;
}

/** The usual problem: "must be <expected>, got <value>". */
export function mismatch(expected: string, value: unknown): Checked<never> {
  return reject(`must be ${expected}, got ${describeValue(value)}`);
}

/** A rule from a predicate over strings. */
export function stringRule(expected: string, accepts: (text: string) => boolean): Rule<string> {
  return {
    expected,
    check: (value) => (typeof value === 'string' && accepts(value) ? accept(value) : mismatch(expected, value)),
  };
}

/** An integer in [min, max]; `unit` is named in the message ("ms", "seconds"). */
export function integerRule(min: number, max: number, unit = ''): Rule<number> {
  const expected = `an integer from ${min} to ${max}${unit === '' ? '' : ` ${unit}`}`;
  return {
    expected,
    check: (value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? accept(value) : mismatch(expected, value),
  };
}

/** One of a fixed set of strings, mapped to a value (an enum member). */
export function oneOfRule<T>(choices: ReadonlyMap<string, T>): Rule<T> {
  const expected = `one of ${[...choices.keys()].join('|')}`;
  return {
    expected,
    check: (value) => {
      const found = typeof value === 'string' ? choices.get(value) : undefined;
      return found !== undefined ? accept(found) : mismatch(expected, value);
    },
  };
}

/** Levenshtein distance, for "did you mean" on misspelt field names; inputs are short. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}

// Case and separators are ignored when comparing: "all_down", "interval_ms" and "alldown" are
// spellings of allDown / intervalMs, not different names.
const normalizeName = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/** The allowed name closest to a misspelt one, if it is plausibly a typo of it. */
export function closestName(name: string, allowed: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of allowed) {
    const distance = editDistance(normalizeName(name), normalizeName(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Up to a third of the name may differ ("capcity", "intervalMS", "fallbak"), at least one edit.
  return bestDistance <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** True for a plain JSON object (not null, not an array). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The type of a JSON value in words, for "must be a JSON object, got an array". */
export function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Applies rules to the fields of one JSON object and collects problems under a path prefix. */
export class FieldReader {
  constructor(
    private readonly object: Record<string, unknown>,
    /** Problems collected so far, shared by nested readers. */
    readonly problems: string[],
    private readonly prefix = '',
  ) {}

  /** The full path of a field ("probe.intervalMs"). */
  path(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** Records a problem for a field (or for the object itself when `name` is ""). */
  report(name: string, problem: string): void {
    this.problems.push(`${this.path(name) || 'document'}: ${problem}`);
  }

  /** Records a problem already phrased with its subject (`id "n2" does not match key ...`). */
  reportAsIs(problem: string): void {
    this.problems.push(problem);
  }

  /**
   * Reports every field that is not in `allowed`, with a suggestion when it looks like a typo:
   * an unknown field is almost always a misspelt known one, and ignoring it would silently leave
   * the intended setting at its default.
   */
  rejectUnknown(allowed: readonly string[]): void {
    for (const name of Object.keys(this.object)) {
      if (allowed.includes(name)) continue;
      const suggestion = closestName(name, allowed);
      const hint = suggestion === undefined ? `; allowed: ${allowed.join(', ')}` : `; did you mean "${this.path(suggestion)}"?`;
      this.report(name, `unknown field${hint}`);
    }
  }

  /** A field that must be present (and not null). */
  required<T>(name: string, rule: Rule<T>): T | undefined {
    const value = this.object[name];
    if (value === undefined || value === null) {
      this.report(name, `required, must be ${rule.expected}`);
      return undefined;
    }
    return this.apply(name, rule, value);
  }

  /** A field that may be absent; JSON null counts as absent (some tools write null for "unset"). */
  optional<T>(name: string, rule: Rule<T>): T | undefined {
    const value = this.object[name];
    return value === undefined || value === null ? undefined : this.apply(name, rule, value);
  }

  /**
   * A required, non-empty array whose items each pass `item`, without duplicates (the lists of
   * documents are sets or ordered preferences, where a repeat is always a mistake). Problems
   * name the item: "pools[1]: ...".
   */
  requiredList<T>(name: string, item: Rule<T>, itemsDescription: string): T[] | undefined {
    const value = this.object[name];
    const expected = `a non-empty array of ${itemsDescription}`;
    if (value === undefined || value === null) {
      this.report(name, `required, must be ${expected}`);
      return undefined;
    }
    if (!Array.isArray(value) || value.length === 0) {
      this.report(name, `must be ${expected}, got ${describeValue(value)}`);
      return undefined;
    }
    const items: T[] = [];
    let failed = false;
    value.forEach((raw: unknown, index) => {
      const checked = item.check(raw);
      const first = value.indexOf(raw);
      if (!checked.ok) this.report(`${name}[${index}]`, checked.problem);
      else if (first !== index) this.report(`${name}[${index}]`, `duplicate of ${name}[${first}] ${describeValue(raw)}`);
      else {
        items.push(checked.value);
        return;
      }
      failed = true;
    });
    return failed ? undefined : items;
  }

  /** A nested object field, read with its own reader under "<name>.". */
  nested(name: string): FieldReader | undefined {
    const value = this.object[name];
    if (value === undefined || value === null) return undefined;
    if (!isJsonObject(value)) {
      this.report(name, `must be a JSON object, got ${jsonTypeOf(value)}`);
      return undefined;
    }
    return new FieldReader(value, this.problems, `${this.path(name)}.`);
  }

  private apply<T>(name: string, rule: Rule<T>, value: unknown): T | undefined {
    const checked = rule.check(value);
    if (checked.ok) return checked.value;
    this.report(name, checked.problem);
    return undefined;
  }
}
