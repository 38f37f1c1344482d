/**
 * Store failures name the step and the cause, never echo data values carried by driver errors, and carry
 * a code saying what retrying can do (kept in step with docs/errors.md).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SealstreamError } from '@sealstream/protocol';
import { STORE_ANSWERS } from '../../src/http/api-errors.js';
import { STORE_ERRORS, StoreError, type StoreErrorCode } from '../../src/pipeline/store-error.js';
import { classifyFailure, failureReason, storeFailure } from '../../src/store/store-errors.js';

describe('store failure messages', () => {
  it('names a database error by SQLSTATE only, dropping its message and detail', () => {
    const dbError = Object.assign(new Error('invalid input syntax for type bigint: "secret-ish"'), {
      severity: 'ERROR',
      code: '22P02',
      detail: 'Key (device_id)=(dev-7) already exists.',
    });
    const error = storeFailure('commit', dbError);
    expect(error.message).toBe('store commit failed: SQLSTATE 22P02');
    expect(error.cause).toBeUndefined();
  });

  it('names well-known states in words', () => {
    expect(failureReason({ code: '57014' })).toBe('statement timeout or cancel (SQLSTATE 57014)');
    expect(failureReason({ code: '40P01' })).toBe('deadlock detected (SQLSTATE 40P01)');
  });

  it('keeps socket codes and plain driver messages, which carry no data', () => {
    expect(failureReason(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }))).toBe(
      'ECONNREFUSED',
    );
    expect(failureReason(new Error('Connection terminated unexpectedly'))).toBe('Connection terminated unexpectedly');
    expect(failureReason('a string')).toBe('unknown error');
  });
});

describe('store error codes', () => {
  it('classifies by SQLSTATE class what retrying can do', () => {
    const cases: Array<[string, StoreErrorCode]> = [
      ['08006', 'store_unavailable'],
      ['57P01', 'store_unavailable'],
      ['57014', 'store_unavailable'],
      ['53300', 'store_unavailable'],
      ['40001', 'store_unavailable'],
      ['40P01', 'store_unavailable'],
      ['22P05', 'store_refused_data'],
      ['22021', 'store_refused_data'],
      ['23514', 'store_refused_data'],
      ['54000', 'store_refused_data'],
      ['42P01', 'store_defect'],
      ['42703', 'store_defect'],
      ['28P01', 'store_defect'],
      ['3D000', 'store_defect'],
    ];
    for (const [code, expected] of cases) {
      expect(classifyFailure(Object.assign(new Error('x'), { severity: 'ERROR', code })), code).toBe(expected);
    }
    expect(classifyFailure(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe('store_unavailable');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('store_unavailable');
    expect(classifyFailure(new TypeError('x is undefined'))).toBe('store_defect');
  });

  it('throws one error class carrying the code, retryable only for unavailability', () => {
    const refused = storeFailure('commit', { code: '22P05' });
    expect(refused).toBeInstanceOf(StoreError);
    expect(refused).toBeInstanceOf(SealstreamError);
    expect(refused).toMatchObject({ code: 'store_refused_data', retryable: false, sqlState: '22P05' });
    expect(storeFailure('ping', { code: '08006' })).toMatchObject({ code: 'store_unavailable', retryable: true });
    // Already classified errors pass through unchanged.
    expect(storeFailure('commit', refused)).toBe(refused);
  });
});

describe('docs/errors.md "Store errors" matches the catalogue', () => {
  const doc = readFileSync(new URL('../../../../docs/errors.md', import.meta.url), 'utf8');
  const section = doc.split('\n## Store errors\n')[1]?.split('\n## ')[0] ?? '';
  const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (yes|no) \| `([a-z_]+)` \| (.+) \|$/gm)].map((m) => ({
    code: m[1] as StoreErrorCode,
    retryable: m[2] === 'yes',
    answer: m[3],
    meaning: m[4],
  }));

  it('lists every code with its retryability, API answer and description, and nothing else', () => {
    expect(rows.map((row) => row.code).sort()).toEqual(Object.keys(STORE_ERRORS).sort());
    for (const row of rows) {
      expect(row.retryable, row.code).toBe(STORE_ERRORS[row.code].retryable);
      expect(row.answer, row.code).toBe(STORE_ANSWERS[row.code]);
      expect(row.meaning, row.code).toBe(STORE_ERRORS[row.code].description);
    }
  });
});
