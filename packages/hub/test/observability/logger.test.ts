/** The hub logger: JSON lines at the chosen level, with secret-bearing fields redacted. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger } from '../../src/observability/logger.js';

function capture(): { stream: Writable; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('redacts secrets at the top level, one level down, and in request headers', () => {
    const out = capture();
    const logger = createLogger({ level: 'info', destination: out.stream });
    logger.info(
      {
        token: 'top-token',
        password: 'top-password',
        config: { authToken: 'legacy-auth', encryptionKey: 'enc-key', secret: 'device-secret', port: 4000 },
        device: { token: 'device-token', id: 'dev-1' },
        req: { headers: { authorization: 'Bearer abc', 'user-agent': 'probe' } },
      },
      'configured',
    );
    const [line] = out.lines();
    const text = JSON.stringify(line);
    for (const secret of [
      'top-token',
      'top-password',
      'legacy-auth',
      'enc-key',
      'device-secret',
      'device-token',
      'Bearer abc',
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(line).toMatchObject({
      msg: 'configured',
      token: REDACTED,
      config: { authToken: REDACTED, encryptionKey: REDACTED, secret: REDACTED, port: 4000 },
      device: { token: REDACTED, id: 'dev-1' },
      req: { headers: { authorization: REDACTED, 'user-agent': 'probe' } },
    });
  });

  it('honours the level', () => {
    const out = capture();
    const logger = createLogger({ level: 'warn', destination: out.stream });
    logger.info('quiet');
    logger.warn({ attempt: 2 }, 'loud');
    const lines = out.lines();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'loud', attempt: 2, level: 40 });
  });
});
