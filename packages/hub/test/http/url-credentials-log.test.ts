/**
 * Credentials a client puts in a URL's query (`?access_token=`, `?token=`, `?api_key=`, spelled any
 * way the server would still read) never reach the log: not in the request lines, not in the 404 line.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED_PATHS, REDACTED } from '../../src/observability/logger.js';
import { startApiHarness, type ApiHarness } from '../support/api-harness.js';

const logLines: string[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logLines.push(chunk.toString('utf8'));
    done();
  },
});

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite', {
    // The hub's own redaction settings, at info level so every request is logged.
    logger: pino({ level: 'info', redact: { paths: [...REDACTED_PATHS], censor: REDACTED } }, logStream),
  });
});
afterAll(async () => {
  await api?.stop();
});

describe('the request log', () => {
  it('never holds a token sent in a URL query', async () => {
    const token = api.tokens.viewer;
    const secretish = 'pa55-w0rd-in-a-query-string';
    const urls = [
      `/api/v1/stats?access_token=${token}`,
      `/api/v1/devices?limit=5&token=${token}`,
      `/api/v1/devices?%74oken=${encodeURIComponent(token)}`,
      `/api/v1/stats?api_key=ssk_${secretish}`,
      `/api/v1/stats?password=${secretish}&client_secret=${secretish}`,
      `/no-such-route?access_token=${token}`,
      `/api/v1/stats?${token}`,
    ];
    logLines.length = 0;
    for (const url of urls) await (await fetch(`${api.base}${url}`)).arrayBuffer();
    const log = logLines.join('');
    // Every request was logged, with its redacted URL.
    expect(log).toContain('/no-such-route?access_token=[redacted]');
    expect(log).toContain('/api/v1/devices?limit=5&token=[redacted]');
    expect(log).not.toContain(token);
    expect(log).not.toContain(token.split('.')[2] ?? token);
    expect(log).not.toContain(secretish);
  });
});
