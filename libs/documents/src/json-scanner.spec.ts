import { describe, expect, it } from 'vitest';
import { findJsonProblem, lineAndColumn } from './json-scanner.js';

describe('findJsonProblem', () => {
  it('finds nothing in valid JSON that JSON.parse accepts', () => {
    for (const text of [
      '{}',
      '[]',
      ' {"a": [1, -2.5e3, 0, 0.5, true, false, null, "x\\n\\u00e9\\"\\\\\\/"], "b": {"c": {}}} ',
      '"just a string"',
      '42',
      '{"emoji":"😀","中":"文"}',
      '{"a":1,"b":{"a":2}}',
    ]) {
      expect(findJsonProblem(text), text).toBeUndefined();
      expect(() => JSON.parse(text)).not.toThrow();
    }
  });

  it('reports position, line and column of a syntax error', () => {
    expect(findJsonProblem('{"id": }')).toEqual({ position: 7, line: 1, column: 8, message: 'expected a value, found "}"' });
    expect(findJsonProblem('{\n  "id": "n1",\n  "port": 44 3\n}')).toEqual({
      position: 29,
      line: 3,
      column: 14,
      message: 'expected "," or "}" after a property value, found "3"',
    });
  });

  it('names each kind of syntax error', () => {
    const cases: [string, string][] = [
      ['{"a":1,}', 'expected a property name after "," (trailing comma?), found "}"'],
      ['[1,]', 'expected a value after "," (trailing comma?), found "]"'],
      ["{'a':1}", `expected a property name in double quotes, found "'" (strings and names take double quotes)`],
      ['{"a" 1}', 'expected ":" after a property name, found "1"'],
      ['[1 2]', 'expected "," or "]" after an array element, found "2"'],
      ['{"a":1} x', 'unexpected content after the end of the JSON value'],
      ['{"a":"x', 'unterminated string'],
      ['{"a":"\\x"}', 'invalid escape "\\x" in a string'],
      ['{"a":"\\u12G4"}', 'invalid \\u escape: expected 4 hex digits'],
      ['{"a":"tab\there"}', 'control character U+0009 in a string (write it as an escape such as \\n)'],
      ['{"a":01}', 'invalid number'],
      ['{"a":1.}', 'invalid number'],
      ['{"a":-}', 'invalid number'],
      ['{"a":1e}', 'invalid number'],
      ['{"a":NaN}', 'expected a value, found "N"'],
      ['{"a":tru}', 'expected a value, found "t"'],
      ['{"a":', 'expected a value, found end of input'],
      ['', 'expected a value, found end of input'],
    ];
    for (const [text, message] of cases) {
      expect(findJsonProblem(text)?.message, text).toBe(message);
      expect(() => JSON.parse(text), text).toThrow();
    }
  });

  it('rejects duplicate properties, which JSON.parse would silently collapse, with their path', () => {
    expect(findJsonProblem('{"state":"active","port":1,"state":"drain"}')).toMatchObject({ position: 27, message: 'duplicate property "state"' });
    expect(findJsonProblem('{"probe":{"port":1,"port":2}}')?.message).toBe('duplicate property "probe.port"');
    expect(findJsonProblem('{"pools":[{"a":1,"a":2}]}')?.message).toBe('duplicate property "pools[0].a"');
    // Escapes are decoded before comparing: "st\u0061te" is "state".
    expect(findJsonProblem('{"state":1,"st\\u0061te":2}')?.message).toBe('duplicate property "state"');
    expect(JSON.parse('{"state":"active","state":"drain"}')).toEqual({ state: 'drain' });
  });

  it('bounds nesting depth so hostile input cannot exhaust the stack', () => {
    expect(findJsonProblem('[[[1]]]', 3)).toBeUndefined();
    expect(findJsonProblem('[[[[1]]]]', 3)).toMatchObject({ position: 3, message: 'nested deeper than 3 levels' });
    expect(findJsonProblem('['.repeat(100_000))?.message).toBe('nested deeper than 32 levels');
  });
});

describe('lineAndColumn', () => {
  it('counts lines from 1 and columns from 1', () => {
    expect(lineAndColumn('ab\ncd', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('ab\ncd', 3)).toEqual({ line: 2, column: 1 });
    expect(lineAndColumn('ab\ncd', 4)).toEqual({ line: 2, column: 2 });
  });
});
