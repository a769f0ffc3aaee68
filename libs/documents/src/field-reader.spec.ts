import { describe, expect, it } from 'vitest';
import { closestName, describeValue, editDistance, FieldReader, integerRule, jsonTypeOf, oneOfRule, stringRule } from './field-reader.js';

describe('describeValue', () => {
  it('shows strings quoted, numbers and other JSON as written, and cuts long values', () => {
    expect(describeValue('down')).toBe('"down"');
    expect(describeValue(-3)).toBe('-3');
    expect(describeValue(Number.POSITIVE_INFINITY)).toBe('Infinity');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('nothing');
    expect(describeValue([1, 'a'])).toBe('[1,"a"]');
    expect(describeValue({ a: 1 })).toBe('{"a":1}');
    const long = describeValue('x'.repeat(100));
    expect(long).toHaveLength(48);
    expect(long.endsWith('...')).toBe(true);
  });
});

describe('jsonTypeOf', () => {
  it('names JSON types in words', () => {
    expect([null, [], {}, 'x', 1, true].map(jsonTypeOf)).toEqual(['null', 'an array', 'an object', 'a string', 'a number', 'a boolean']);
  });
});

describe('editDistance and closestName', () => {
  it('computes Levenshtein distance', () => {
    expect(editDistance('capcity', 'capacity')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('same', 'same')).toBe(0);
  });

  it('suggests the field a typo was meant to be, and nothing for unrelated names', () => {
    const fields = ['id', 'address', 'port', 'capacity', 'state', 'pools', 'intervalMs'];
    expect(closestName('capcity', fields)).toBe('capacity');
    expect(closestName('adress', fields)).toBe('address');
    expect(closestName('intervalMS', fields)).toBe('intervalMs');
    expect(closestName('pool', fields)).toBe('pools');
    expect(closestName('interval_ms', fields)).toBe('intervalMs');
    expect(closestName('Capacity', fields)).toBe('capacity');
    expect(closestName('weight', fields)).toBeUndefined();
    expect(closestName('comment', fields)).toBeUndefined();
  });
});

describe('rules', () => {
  it('integerRule accepts integers in range and names the unit', () => {
    const ttl = integerRule(1, 86_400, 'seconds');
    expect(ttl.check(30)).toEqual({ ok: true, value: 30 });
    expect(ttl.check(1e2)).toEqual({ ok: true, value: 100 });
    expect(ttl.check(0)).toEqual({ ok: false, problem: 'must be an integer from 1 to 86400 seconds, got 0' });
    expect(ttl.check(1.5)).toEqual({ ok: false, problem: 'must be an integer from 1 to 86400 seconds, got 1.5' });
    expect(ttl.check('30')).toEqual({ ok: false, problem: 'must be an integer from 1 to 86400 seconds, got "30"' });
  });

  it('oneOfRule maps names to values and lists the names', () => {
    const rule = oneOfRule(new Map([['on', 1], ['off', 0]]));
    expect(rule.check('off')).toEqual({ ok: true, value: 0 });
    expect(rule.check('ON')).toEqual({ ok: false, problem: 'must be one of on|off, got "ON"' });
    expect(rule.check(1)).toEqual({ ok: false, problem: 'must be one of on|off, got 1' });
  });

  it('stringRule refuses non-strings', () => {
    const rule = stringRule('a word', (text) => /^\w+$/.test(text));
    expect(rule.check('abc')).toEqual({ ok: true, value: 'abc' });
    expect(rule.check(['abc'])).toEqual({ ok: false, problem: 'must be a word, got ["abc"]' });
  });
});

describe('FieldReader', () => {
  const word = stringRule('a word', (text) => /^\w+$/.test(text));

  it('collects every problem with its path instead of stopping at the first', () => {
    const problems: string[] = [];
    const reader = new FieldReader({ a: '!', b: 'ok', c: null }, problems);
    expect(reader.required('a', word)).toBeUndefined();
    expect(reader.required('b', word)).toBe('ok');
    expect(reader.required('c', word)).toBeUndefined();
    expect(reader.required('d', word)).toBeUndefined();
    expect(problems).toEqual(['a: must be a word, got "!"', 'c: required, must be a word', 'd: required, must be a word']);
  });

  it('treats absent and null optional fields as unset', () => {
    const problems: string[] = [];
    const reader = new FieldReader({ a: null }, problems);
    expect(reader.optional('a', word)).toBeUndefined();
    expect(reader.optional('b', word)).toBeUndefined();
    expect(problems).toEqual([]);
  });

  it('reports unknown fields with a suggestion, or the allowed list when nothing is close', () => {
    const problems: string[] = [];
    new FieldReader({ capcity: 1, comment: 'x', port: 1 }, problems).rejectUnknown(['port', 'capacity']);
    expect(problems).toEqual(['capcity: unknown field; did you mean "capacity"?', 'comment: unknown field; allowed: port, capacity']);
  });

  it('reads nested objects under a path prefix and refuses non-objects', () => {
    const problems: string[] = [];
    const reader = new FieldReader({ probe: { intervalMS: 1 }, other: [1] }, problems);
    const probe = reader.nested('probe');
    probe?.rejectUnknown(['intervalMs']);
    probe?.required('type', word);
    expect(reader.nested('other')).toBeUndefined();
    expect(reader.nested('absent')).toBeUndefined();
    expect(problems).toEqual([
      'probe.intervalMS: unknown field; did you mean "probe.intervalMs"?',
      'probe.type: required, must be a word',
      'other: must be a JSON object, got an array',
    ]);
  });

  it('reads lists item by item, refusing empty lists, bad items and duplicates', () => {
    const read = (value: unknown): { items: string[] | undefined; problems: string[] } => {
      const problems: string[] = [];
      const items = new FieldReader({ list: value }, problems).requiredList('list', word, 'words');
      return { items, problems };
    };
    expect(read(['a', 'b'])).toEqual({ items: ['a', 'b'], problems: [] });
    expect(read([])).toEqual({ items: undefined, problems: ['list: must be a non-empty array of words, got []'] });
    expect(read('a')).toEqual({ items: undefined, problems: ['list: must be a non-empty array of words, got "a"'] });
    expect(read(undefined)).toEqual({ items: undefined, problems: ['list: required, must be a non-empty array of words'] });
    expect(read(['a', '!', 'a'])).toEqual({
      items: undefined,
      problems: ['list[1]: must be a word, got "!"', 'list[2]: duplicate of list[0] "a"'],
    });
  });
});
