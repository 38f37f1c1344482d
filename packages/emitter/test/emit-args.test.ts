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

  it('applies the documented defaults in both modes', () => {
    expect(parseEmitArgs(['--key-id', 'k'], { SEALSTREAM_DEVICE_SECRET: secret })).toMatchObject({
      ok: true,
      command: { mode: 'native', host: '127.0.0.1', port: 7700, frameSize: 500, suite: 1, connections: 1 },
    });
    expect(parseEmitArgs(['--mode', 'legacy'], { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't' })).toMatchObject({
      ok: true,
      command: { mode: 'legacy', port: 4000, intervalMs: 10_000, minMessages: 49, maxMessages: 499, variant: 'sorted' },
    });
  });

  it('names the offending flag or variable for each bad value', () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['--port', '70000', '--key-id', 'k', '--secret', secret], {}, '--port'],
      [['--suite', 'rot13', '--key-id', 'k', '--secret', secret], {}, '--suite'],
      [['--frame-size', '1.5', '--key-id', 'k', '--secret', secret], {}, '--frame-size'],
      [['--mode', 'ftp'], {}, '--mode'],
      [['--device-ids', 'pump-7,bad id', '--key-id', 'k', '--secret', secret], {}, '--device-ids'],
      [['--device-ids', '', '--key-id', 'k', '--secret', secret], {}, '--device-ids'],
      [['--mode', 'legacy'], { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't', LISTENER_PORT: 'abc' }, 'LISTENER_PORT'],
      [['--mode', 'legacy'], { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't', EMIT_INTERVAL_MS: '-5' }, 'EMIT_INTERVAL_MS'],
      [['--mode', 'legacy', '--tamper', '2'], { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't' }, '--tamper'],
      [['--mode', 'legacy', '--variant', 'random'], { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't' }, '--variant'],
      [
        ['--mode', 'legacy', '--min-messages', '10', '--max-messages', '5'],
        { ENCRYPTION_KEY: 'k', AUTH_TOKEN: 't' },
        '--max-messages',
      ],
      [['--mode', 'legacy'], { AUTH_TOKEN: 't' }, 'ENCRYPTION_KEY'],
    ];
    for (const [argv, env, mention] of cases) {
      const result = parseEmitArgs(argv, env);
      expect(result.ok, argv.join(' ')).toBe(false);
      if (!result.ok) expect(result.error).toContain(mention);
    }
  });

  it('takes exact device ids from --device-ids', () => {
    const result = parseEmitArgs(['--device-ids', 'pump-7, pump-8', '--key-id', 'k', '--secret', secret], {});
    expect(result.ok && result.command.mode === 'native' && result.command.deviceIds).toEqual(['pump-7', 'pump-8']);
  });

  it('documents every flag in --help', () => {
    const help = emitHelpText();
    for (const flag of [
      '--mode',
      '--host',
      '--port',
      '--devices',
      '--device-prefix',
      '--device-ids',
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
      '--variant',
    ]) {
      expect(help).toContain(flag);
    }
    for (const env of [
      'ENCRYPTION_KEY',
      'AUTH_TOKEN',
      'LISTENER_HOST',
      'LISTENER_PORT',
      'EMIT_INTERVAL_MS',
      'SEALSTREAM_DEVICE_SECRET',
    ])
      expect(help).toContain(env);
  });
});
