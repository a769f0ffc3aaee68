/**
 * Reading what a `/metrics` endpoint serves, for tests and benchmarks: the one parser of scrapes in
 * this repository (the services' own scrapes, etcd's, and the benches' figures read from them).
 *
 * The Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): one sample per
 * line, `name{label="value",…} value [timestamp]`; `#` lines are HELP, TYPE and comments; label
 * values escape `\\`, `\"` and `\n`; values are Go floats, including `NaN`, `+Inf` and `-Inf`.
 * `prometheus-text.spec.ts` holds it to prom-client's own rendering of every metric kind.
 */

/** One sample line. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Labels a sample must carry, each with this value. */
export type LabelMatch = Readonly<Record<string, string>>;

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;

/** A parsed scrape. */
export class Scrape {
  private constructor(readonly samples: readonly Sample[]) {}

  /** Parses `text`; throws naming the line when it is not the text format. */
  static parse(text: string): Scrape {
    const samples: Sample[] = [];
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === '' || line.startsWith('#')) continue;
      try {
        samples.push(parseSample(line));
      } catch (error) {
        throw new Error(`line ${i + 1} of the scrape is not a Prometheus text-format sample (${(error as Error).message}): ${line.slice(0, 200)}`);
      }
    }
    return new Scrape(samples);
  }

  /** The samples named `name` that carry every label of `match`. */
  select(name: string, match: LabelMatch = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && matches(s, match));
  }

  /** Sum of the samples named `name` that carry every label of `match` (0 when there are none). */
  sum(name: string, match: LabelMatch = {}): number {
    let total = 0;
    for (const s of this.select(name, match)) total += s.value;
    return total;
  }

  /** The value of the one sample named `name` with `match`; undefined when there is none, an error when there are several. */
  value(name: string, match: LabelMatch = {}): number | undefined {
    const found = this.select(name, match);
    if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(match)}; say which one`);
    return found[0]?.value;
  }

  /**
   * A histogram's cumulative bucket counts by upper bound (`le`, `+Inf` as Infinity), summed over
   * the label sets of `name_bucket` that carry `match`.
   */
  buckets(name: string, match: LabelMatch = {}): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.select(`${name}_bucket`, match)) {
      const le = s.labels['le'];
      if (le === undefined) throw new Error(`${name}_bucket sample without an le label`);
      const bound = parseValue(le);
      out.set(bound, (out.get(bound) ?? 0) + s.value);
    }
    return out;
  }

  /** Every metric name that has a sample (a histogram's as `_bucket`, `_sum` and `_count`). */
  names(): Set<string> {
    return new Set(this.samples.map((s) => s.name));
  }
}

/** GETs `url` (the whole address of the endpoint, `…/metrics`) and parses the answer. */
export async function scrape(url: string, timeoutMs = 5000): Promise<Scrape> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return Scrape.parse(await res.text());
}

function matches(s: Sample, match: LabelMatch): boolean {
  for (const key in match) if (s.labels[key] !== match[key]) return false;
  return true;
}

function parseSample(line: string): Sample {
  NAME.lastIndex = 0;
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new Error('no metric name');
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      i = skipSpaces(line, i);
      if (line[i] === '}') break;
      LABEL_NAME.lastIndex = i;
      const label = LABEL_NAME.exec(line)?.[0];
      if (label === undefined) throw new Error(`a label name expected at column ${i + 1}`);
      i = skipSpaces(line, i + label.length);
      if (line[i] !== '=') throw new Error(`'=' expected after label ${label}`);
      i = skipSpaces(line, i + 1);
      if (line[i] !== '"') throw new Error(`a quoted value expected for label ${label}`);
      let value = '';
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) throw new Error(`the value of label ${label} is not closed`);
        if (line[i] !== '\\') {
          value += line[i];
          continue;
        }
        const escaped = line[++i];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else throw new Error(`unknown escape \\${escaped ?? ''} in label ${label}`);
      }
      labels[label] = value;
      i = skipSpaces(line, i + 1);
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new Error(`',' or '}' expected after label ${label}`);
    }
    i++;
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new Error('a value (and at most a timestamp) expected after the labels');
  return { name, labels, value: parseValue(rest[0]!) };
}

function skipSpaces(line: string, i: number): number {
  while (line[i] === ' ' || line[i] === '\t') i++;
  return i;
}

/**
 * A Go float (`strconv.ParseFloat`, which the format names): NaN and Inf in any case, with or
 * without a sign (prom-client writes `Nan`, Prometheus `NaN` and `+Inf`).
 */
function parseValue(text: string): number {
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]!.toLowerCase() === 'nan' ? Number.NaN : special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  const value = Number(text);
  if (Number.isNaN(value)) throw new Error(`${JSON.stringify(text)} is not a number`);
  return value;
}
