/**
 * U+0000 (and unpaired surrogates) in any API string input — query, path parameters, JSON bodies — is the
 * request's fault: 400 validation_failed with the place named, never a 503 and an error log. And store
 * errors are answered by their code, once, never by their message.
 */
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealstreamError } from '@sealstream/protocol';
import { ApiError, installErrorHandlers } from '../../src/http/api-errors.js';
import { StoreError } from '../../src/pipeline/store-error.js';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite', { logger: pino({ level: 'info' }, logStream) });
});
afterAll(async () => {
  await api?.stop();
});

function errorLogs(): string[] {
  return logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
}

describe('text PostgreSQL cannot store, in API input', () => {
  it.each([
    ['a query parameter', 'GET', '/api/v1/dead-letters?device=a%00b', undefined, 'viewer', 'querystring', '/device'],
    ['a path parameter', 'GET', '/api/v1/devices/a%00b/readings', undefined, 'viewer', 'params', '/device'],
    ['a user name', 'POST', '/api/v1/users', { username: 'eve\u0000', role: 'viewer' }, 'admin', 'body', '/username'],
    ['an API key name', 'POST', '/api/v1/api-keys', { name: 'k\ud800', scopes: ['read'] }, 'admin', 'body', '/name'],
    [
      'a user patch',
      'PATCH',
      '/api/v1/users/1',
      { password: 'pass\u0000word-long-enough' },
      'admin',
      'body',
      '/password',
    ],
  ] as const)(
    'in %s answers 400 validation_failed, not 503',
    async (_what, method, path, body, role, where, pointer) => {
      logLines.length = 0;
      const answer = await call(api.base, method, path, {
        token: api.tokens[role],
        ...(body === undefined ? {} : { body }),
      });
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({
        error: { code: 'validation_failed', details: [expect.objectContaining({ in: where, path: pointer })] },
      });
      expect(JSON.stringify(answer.body)).not.toContain('\\u0000');
      expect(errorLogs()).toEqual([]);
    },
  );

  it('in a key of a JSON body too, and still checks authorization first', async () => {
    const anonymous = await call(api.base, 'POST', '/api/v1/users', { body: { ['user\u0000name']: 'x' } });
    expect(anonymous.status).toBe(401);
    const answer = await call(api.base, 'POST', '/api/v1/users', {
      token: api.tokens.admin,
      body: { ['user\u0000name']: 'x', role: 'viewer' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { code: 'validation_failed' } });
  });
});

describe('store errors are answered by code', () => {
  async function answerFor(error: Error): Promise<{ status: number; code: string }> {
    const app = Fastify({ logger: false });
    installErrorHandlers(app);
    app.get('/x', () => {
      throw error;
    });
    const response = await app.inject({ method: 'GET', url: '/x' });
    await app.close();
    return { status: response.statusCode, code: (response.json() as { error: { code: string } }).error.code };
  }

  it('maps each StoreError code once: outage 503, refused data 400, defect 500', async () => {
    expect(await answerFor(new StoreError('store_unavailable', 'store ping failed: ECONNREFUSED'))).toEqual({
      status: 503,
      code: 'store_unavailable',
    });
    expect(await answerFor(new StoreError('store_refused_data', 'store x failed: SQLSTATE 22021'))).toEqual({
      status: 400,
      code: 'bad_request',
    });
    expect(await answerFor(new StoreError('store_defect', 'store x failed: SQLSTATE 42P01'))).toEqual({
      status: 500,
      code: 'internal_error',
    });
  });

  it('never decides by message: an Error whose text starts with "store" is an internal error', async () => {
    expect(await answerFor(new Error('store: something of ours'))).toEqual({ status: 500, code: 'internal_error' });
  });

  it('shares one base class with a code and retryability', () => {
    const busy = new ApiError('overloaded', 'busy');
    expect(busy).toBeInstanceOf(SealstreamError);
    expect(busy).toMatchObject({ code: 'overloaded', retryable: true, status: 503 });
    expect(new ApiError('bad_request', 'no')).toMatchObject({ retryable: false });
  });
});
