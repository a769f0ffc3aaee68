/**
 * A strict JSON (RFC 8259) syntax scanner that builds no values. It runs before `JSON.parse` for
 * two reasons:
 * - V8's parse errors differ between Node versions and sometimes carry no position and echo the
 *   whole input; a person editing a document with etcdctl needs "line 3, column 14: ...".
 * - `JSON.parse` silently keeps the last of duplicate keys, so `{"state":"active",...,
 *   "state":"drain"}` would mean drain with no warning; RFC 8259 §4 leaves duplicates undefined,
 *   this scanner rejects them.
 */

/** A problem found in JSON text, at a UTF-16 offset (what `String.prototype` indexes count). */
export interface JsonProblem {
  /** 0-based offset of the offending character. */
  position: number;
  /** 1-based line of `position`. */
  line: number;
  /** 1-based column of `position`. */
  column: number;
  /** What is wrong, e.g. `expected ":" after a property name, found "}"`. */
  message: string;
}

class ScanError extends Error {
  constructor(
    readonly position: number,
    message: string,
  ) {
    super(message);
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const SIMPLE_ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX = /^[0-9a-fA-F]{4}$/;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

function describeChar(char: string | undefined): string {
  if (char === undefined) return 'end of input';
  const code = char.charCodeAt(0);
  return code < 0x20 ? `control character U+${code.toString(16).padStart(4, '0').toUpperCase()}` : JSON.stringify(char);
}

class Scanner {
  private at = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  scan(): void {
    this.skipWhitespace();
    this.value(0, '');
    this.skipWhitespace();
    if (this.at < this.text.length) this.fail('unexpected content after the end of the JSON value');
  }

  private fail(message: string, position = this.at): never {
    throw new ScanError(position, message);
  }

  private found(expected: string): never {
    const char = this.text[this.at];
    const hint = char === "'" ? ' (strings and names take double quotes)' : '';
    this.fail(`${expected}, found ${describeChar(char)}${hint}`);
  }

  private skipWhitespace(): void {
    while (this.at < this.text.length && WHITESPACE.has(this.text[this.at])) this.at += 1;
  }

  private value(depth: number, path: string): void {
    const char = this.text[this.at];
    if (char === '{') return this.object(depth + 1, path);
    if (char === '[') return this.array(depth + 1, path);
    if (char === '"') return void this.string();
    if (char === '-' || (char >= '0' && char <= '9')) return this.number();
    for (const literal of ['true', 'false', 'null']) {
      if (this.text.startsWith(literal, this.at)) {
        this.at += literal.length;
        return;
      }
    }
    this.found('expected a value');
  }

  private enter(depth: number): void {
    if (depth > this.maxDepth) this.fail(`nested deeper than ${this.maxDepth} levels`);
    this.at += 1;
    this.skipWhitespace();
  }

  private object(depth: number, path: string): void {
    this.enter(depth);
    if (this.text[this.at] === '}') {
      this.at += 1;
      return;
    }
    const seen = new Set<string>();
    for (;;) {
      if (this.text[this.at] !== '"') {
        this.found(this.text[this.at] === '}' ? 'expected a property name after "," (trailing comma?)' : 'expected a property name in double quotes');
      }
      const keyStart = this.at;
      const key = this.string();
      const keyPath = path === '' ? key : `${path}.${key}`;
      if (seen.has(key)) this.fail(`duplicate property "${keyPath}"`, keyStart);
      seen.add(key);
      this.skipWhitespace();
      if (this.text[this.at] !== ':') this.found('expected ":" after a property name');
      this.at += 1;
      this.skipWhitespace();
      this.value(depth, keyPath);
      this.skipWhitespace();
      if (this.text[this.at] === '}') {
        this.at += 1;
        return;
      }
      if (this.text[this.at] !== ',') this.found('expected "," or "}" after a property value');
      this.at += 1;
      this.skipWhitespace();
    }
  }

  private array(depth: number, path: string): void {
    this.enter(depth);
    if (this.text[this.at] === ']') {
      this.at += 1;
      return;
    }
    for (let index = 0; ; index += 1) {
      if (this.text[this.at] === ']') this.found('expected a value after "," (trailing comma?)');
      this.value(depth, `${path}[${index}]`);
      this.skipWhitespace();
      if (this.text[this.at] === ']') {
        this.at += 1;
        return;
      }
      if (this.text[this.at] !== ',') this.found('expected "," or "]" after an array element');
      this.at += 1;
      this.skipWhitespace();
    }
  }

  /** Scans a string literal and returns its decoded value. */
  private string(): string {
    const start = this.at;
    this.at += 1;
    for (;;) {
      const char = this.text[this.at];
      if (char === undefined) this.fail('unterminated string', start);
      if (char === '"') break;
      if (char === '\\') {
        const escape = this.text[this.at + 1];
        if (escape === 'u') {
          if (!HEX.test(this.text.slice(this.at + 2, this.at + 6))) this.fail('invalid \\u escape: expected 4 hex digits');
          this.at += 6;
        } else if (escape !== undefined && SIMPLE_ESCAPES.has(escape)) {
          this.at += 2;
        } else {
          this.fail(`invalid escape "\\${escape ?? ''}" in a string`);
        }
        continue;
      }
      if (char.charCodeAt(0) < 0x20) this.fail(`${describeChar(char)} in a string (write it as an escape such as \\n)`);
      this.at += 1;
    }
    this.at += 1;
    return JSON.parse(this.text.slice(start, this.at)) as string;
  }

  private number(): void {
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail('invalid number');
    const end = this.at + match[0].length;
    const next = this.text[end];
    // "01", "1.", "1e": the grammar matched a prefix and stopped at something a number cannot hold.
    if (next !== undefined && /[0-9.eE+-]/.test(next)) this.fail('invalid number', this.at);
    this.at = end;
  }
}

/** 1-based line and column of `position` in `text`. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i += 1) {
    if (text[i] === '\n') {
      line += 1;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

/**
 * Finds the first syntax error, duplicate property or over-deep nesting in `text`, or returns
 * `undefined` when `JSON.parse(text)` will succeed with no property silently overwritten.
 * Nesting is bounded (`maxDepth`, default 32) so hostile input cannot exhaust the stack.
 */
export function findJsonProblem(text: string, maxDepth = 32): JsonProblem | undefined {
  try {
    new Scanner(text, maxDepth).scan();
    return undefined;
  } catch (error) {
    if (!(error instanceof ScanError)) throw error;
    return { position: error.position, ...lineAndColumn(text, error.position), message: error.message };
  }
}
