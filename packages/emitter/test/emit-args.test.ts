import { describe, expect, it } from 'vitest';
import { emitHelpText, parseEmitArgs } from '@sealstream/emitter';

const secret = 'cd'.repeat(32);

describe('parseEmitArgs', () => {
  it('legacy mode honours the seed variable names, flags overriding them', () => {
    const result = parseEmitArgs(['--mode', 'legacy', '--port', '4100'], {
      ENCRYPTION_KEY: 'k',
      AUTH_TOKEN: 't',
      LISTENER_HOST: '10.0.0.5',
      LISTENER_PORT: '4000',
      EMIT_INTERVAL_MS: '2500',
    });
    expect(result).toMatchObject({
      ok: true,
      command: { mode: 'legacy', host: '10.0.0.5', port: 4100, encryptionKey: 'k', authToken: 't', intervalMs: 2500 },
    });
  });

  it('native mode reads flags and the secret from the environment', () => {
    const result = parseEmitArgs(
      ['--devices', '20', '--rate', '5000', '--duration', '3', '--suite', 'ctr', '--key-id', 'k1'],
      {
        SEALSTREAM_DEVICE_SECRET: secret,
      },
    );
    expect(result).toMatchObject({
      ok: true,
      command: { mode: 'native', devices: 20, rate: 5000, durationSec: 3, suite: 2 },
    });
  });

  it('rejects bad values with clear messages and never echoes a secret', () => {
    const result = parseEmitArgs(['--devices', '0', '--rate', 'fast', '--secret', 'not-hex-secret-value'], {});
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain('--devices');
    expect(result.error).toContain('--rate');
    expect(result.error).toContain('--key-id');
    expect(result.error).not.toContain('not-hex-secret-value');
    expect(parseEmitArgs(['--mode', 'legacy'], {})).toMatchObject({ ok: false });
    expect(parseEmitArgs(['--bogus'], {})).toMatchObject({ ok: false });
  });

  it('documents every flag in --help', () => {
    const help = emitHelpText();
    for (const flag of [
      '--mode',
      '--host',
      '--port',
      '--devices',
      '--device-prefix',
      '--rate',
      '--duration',
      '--frame-size',
      '--suite',
      '--key-id',
      '--secret',
      '--connections',
      '--encryption-key',
      '--auth-token',
      '--interval',
      '--min-messages',
      '--max-messages',
      '--bursts',
      '--tamper',
    ]) {
      expect(help).toContain(flag);
    }
    for (const env of ['ENCRYPTION_KEY', 'AUTH_TOKEN', 'LISTENER_HOST', 'LISTENER_PORT', 'EMIT_INTERVAL_MS'])
      expect(help).toContain(env);
  });
});
