/** Store failures name the step and the cause, and never echo data values carried by driver errors. */
import { describe, expect, it } from 'vitest';
import { failureReason, storeFailure } from '../../src/store/store-errors.js';

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
