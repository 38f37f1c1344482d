import fc from 'fast-check';
import { forEachNumericMetric, numericMetrics, validateReading } from '@sealstream/protocol';
import { describe, expect, it } from 'vitest';

const good = { device: 'sensor-1', seq: 0, ts: 1_700_000_000_000, data: { t: 21.5 } };

describe('validateReading', () => {
  it('accepts a well-formed reading and returns it unchanged', () => {
    const result = validateReading(good);
    expect(result).toEqual({ ok: true, reading: good });
    expect(validateReading({ ...good, device: 'A-z.0_9:'.repeat(16), data: {} }).ok).toBe(true);
    expect(validateReading({ ...good, seq: Number.MAX_SAFE_INTEGER, ts: 0 }).ok).toBe(true);
    // The longest metric name, of 4-byte characters: still short enough for the rollup index.
    expect(validateReading({ ...good, data: { ['😀'.repeat(128)]: 1, nested: { ['n'.repeat(5000)]: 1 } } }).ok).toBe(
      true,
    );
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['null', null, /JSON object/],
    ['array', [good], /JSON object/],
    ['string', 'reading', /JSON object/],
    ['missing device', { seq: 1, ts: 1, data: {} }, /device must be a string/],
    ['numeric device', { ...good, device: 5 }, /device must be a string/],
    ['empty device', { ...good, device: '' }, /device must be 1\.\.128/],
    ['device too long', { ...good, device: 'd'.repeat(129) }, /device must be 1\.\.128/],
    ['device with space', { ...good, device: 'a b' }, /device must be 1\.\.128/],
    ['device with newline', { ...good, device: 'ab\n' }, /device must be 1\.\.128/],
    ['negative seq', { ...good, seq: -1 }, /seq/],
    ['fractional seq', { ...good, seq: 1.5 }, /seq/],
    ['unsafe seq', { ...good, seq: 2 ** 53 }, /seq/],
    ['string seq', { ...good, seq: '1' }, /seq/],
    ['missing ts', { device: 'd', seq: 1, data: {} }, /ts/],
    ['negative ts', { ...good, ts: -1 }, /ts/],
    ['fractional ts', { ...good, ts: 1.25 }, /ts/],
    ['NaN ts', { ...good, ts: Number.NaN }, /ts/],
    ['null data', { ...good, data: null }, /data must be a JSON object/],
    ['array data', { ...good, data: [1] }, /data must be a JSON object/],
    ['number data', { ...good, data: 3 }, /data must be a JSON object/],
    ['class instance data', { ...good, data: new Date(0) }, /data must be a JSON object/],
    ['extra field', { ...good, extra: 1 }, /unexpected field "extra"/],
    ['metric name too long', { ...good, data: { ['m'.repeat(257)]: 1 } }, /key \(metric name\) longer than 256/],
    ['text key too long', { ...good, data: { ok: 1, ['k'.repeat(3000)]: 'x' } }, /longer than 256/],
  ];
  for (const [name, value, detail] of cases) {
    it(`refuses ${name} with schema_invalid`, () => {
      const result = validateReading(value);
      expect(result).toMatchObject({ ok: false, reason: 'schema_invalid' });
      if (!result.ok) expect(result.detail).toMatch(detail);
    });
  }

  it('accepts a reading parsed from JSON, including a null-prototype data object', () => {
    expect(validateReading(JSON.parse(JSON.stringify(good))).ok).toBe(true);
    expect(validateReading({ ...good, data: Object.assign(Object.create(null) as object, { a: 1 }) }).ok).toBe(true);
  });
});

describe('numericMetrics', () => {
  it('keeps top-level finite numbers in property order', () => {
    expect(
      numericMetrics({ t: 21.5, unit: 'C', h: 40, ok: true, nested: { x: 1 }, list: [1], n: null, z: -0.5 }),
    ).toEqual([
      ['t', 21.5],
      ['h', 40],
      ['z', -0.5],
    ]);
  });

  it('drops non-finite numbers and strings that look like numbers', () => {
    expect(numericMetrics({ a: Number.NaN, b: Infinity, c: -Infinity, d: '5' })).toEqual([]);
  });

  it('caps at 64 metrics', () => {
    const data = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`m${i}`, i]));
    const metrics = numericMetrics(data);
    expect(metrics).toHaveLength(64);
    expect(metrics[63]).toEqual(['m63', 63]);
  });

  it('forEachNumericMetric visits exactly what Object.keys order and the filters give, for any parsed JSON object', () => {
    const expected = (data: Record<string, unknown>): Array<[string, number]> =>
      Object.keys(data)
        .filter((key) => typeof data[key] === 'number' && Number.isFinite(data[key]))
        .slice(0, 64)
        .map((key) => [key, data[key] as number]);
    const key = fc.oneof(
      fc.string({ maxLength: 6 }),
      fc.constantFrom('__proto__', 'constructor', '0', '17', '-1', '1e3'),
    );
    const value = fc.oneof(fc.double(), fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.constant([1]));
    fc.assert(
      fc.property(fc.array(fc.tuple(key, value), { maxLength: 90 }), (entries) => {
        // Through JSON text, as readings arrive: "__proto__" becomes an own key, integer-like keys sort first.
        const text = `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`).join(',')}}`;
        const data = JSON.parse(text) as Record<string, unknown>;
        const visited: Array<[string, number]> = [];
        forEachNumericMetric(data, (name, metric) => visited.push([name, metric]));
        expect(visited).toEqual(expected(data));
        expect(numericMetrics(data)).toEqual(expected(data));
      }),
      { numRuns: 300 },
    );
  });
});

describe('validateReading refuses text PostgreSQL jsonb cannot store', () => {
  it('refuses numbers beyond a double (1e400 parses to Infinity and would be stored as null)', () => {
    for (const data of [JSON.parse('{"x": 1e400}'), JSON.parse('{"x": [1, {"y": -1e400}]}')]) {
      const checked = validateReading({ device: 'd', seq: 1, ts: 1, data });
      expect(checked).toMatchObject({
        ok: false,
        reason: 'schema_invalid',
        detail: 'data contains a number beyond a double',
      });
    }
    expect(validateReading({ device: 'd', seq: 1, ts: 1, data: { x: 1.7976931348623157e308 } }).ok).toBe(true);
  });

  it.each([
    ['NUL in a value', { s: 'a\u0000b' }],
    ['NUL in a key', { ['k\u0000']: 1 }],
    ['lone high surrogate', { s: '\ud800' }],
    ['lone low surrogate nested', { nested: [{ s: 'x\udc00' }] }],
  ])('%s', (_name, data) => {
    const result = validateReading({ device: 'd', seq: 1, ts: 1, data });
    expect(result).toMatchObject({ ok: false, reason: 'schema_invalid' });
  });

  it('accepts a proper surrogate pair and ordinary unicode', () => {
    expect(validateReading({ device: 'd', seq: 1, ts: 1, data: { s: '😀 ünïcode', n: [1, { x: 'y' }] } }).ok).toBe(
      true,
    );
  });

  it('refuses data nested deeper than 16 levels', () => {
    let data: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 20; i += 1) data = { inner: data };
    expect(validateReading({ device: 'd', seq: 1, ts: 1, data })).toMatchObject({
      ok: false,
      reason: 'schema_invalid',
    });
  });
});
