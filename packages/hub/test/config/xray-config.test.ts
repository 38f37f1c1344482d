/**
 * XRayIOT settings: string HMAC credentials in SEALSTREAM_DEVICE_KEYS (`utf8=`, percent-encoded), the
 * refusal of XRayIOT's published default secret outside --demo, and the AMQP flags.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';

const BASE = { SEALSTREAM_JWT_SECRET: 'j'.repeat(32) };
const WITH_KEY = { ...BASE, SEALSTREAM_DEVICE_KEYS: `k:${'ab'.repeat(32)}` };

describe('XRayIOT configuration', () => {
  it('reads a utf8= string credential: the HMAC key is the string, the frame secret its SHA-256', () => {
    const result = loadConfig(
      [],
      { ...BASE, SEALSTREAM_DEVICE_KEYS: 'xray:utf8=my%2Cxray%3Asecret-0123456789:dev-1|dev-2' },
      DEMO_DEFAULTS,
    );
    if (!result.ok) throw new Error(result.errors.join('; '));
    const [key] = result.config.deviceKeys;
    expect(key?.hmacSecret?.toString('utf8')).toBe('my,xray:secret-0123456789');
    expect(key?.secret).toEqual(createHash('sha256').update('my,xray:secret-0123456789').digest());
    expect(key?.devices).toEqual(['dev-1', 'dev-2']);
  });

  it("refuses XRayIOT's default secret outside --demo, and short or malformed string secrets", () => {
    const refused = (value: string, argv: string[] = []): string[] => {
      const result = loadConfig(argv, { ...BASE, SEALSTREAM_DEVICE_KEYS: value }, DEMO_DEFAULTS);
      return result.ok ? [] : result.errors;
    };
    expect(refused('x:utf8=default-secret-key-change-in-production').join()).toContain('default secret');
    expect(refused('x:utf8=default-secret-key-change-in-production', ['--demo'])).toEqual([]);
    expect(refused('x:utf8=short').join()).toContain('16..1024 bytes');
    expect(refused('x:utf8=%E0%A4%A').join()).toContain('keyId:utf8=<string>');
  });

  it('reads the AMQP flags, and refuses a URL that is not amqp', () => {
    const on = loadConfig(
      ['--amqp-url', 'amqp://guest:guest@127.0.0.1:5672', '--amqp-prefetch', '200'],
      WITH_KEY,
      DEMO_DEFAULTS,
    );
    if (!on.ok) throw new Error(on.errors.join('; '));
    expect(on.config.amqp).toEqual({
      url: 'amqp://guest:guest@127.0.0.1:5672',
      prefetch: 200,
      retryDelayMs: 5000,
      maxInHandBytes: 64 * 1_048_576,
    });
    const budget = loadConfig(
      ['--amqp-url', 'amqp://127.0.0.1', '--amqp-max-in-hand-bytes', String(8 * 1_048_576)],
      WITH_KEY,
      DEMO_DEFAULTS,
    );
    expect(budget.ok && budget.config.amqp?.maxInHandBytes).toBe(8 * 1_048_576);
    const tooSmall = loadConfig(
      ['--amqp-url', 'amqp://127.0.0.1', '--amqp-max-in-hand-bytes', '1000'],
      WITH_KEY,
      DEMO_DEFAULTS,
    );
    expect(tooSmall.ok).toBe(false);
    const off = loadConfig([], WITH_KEY, DEMO_DEFAULTS);
    expect(off.ok && off.config.amqp).toBe(null);
    const bad = loadConfig(['--amqp-url', 'http://x'], WITH_KEY, DEMO_DEFAULTS);
    expect(bad.ok).toBe(false);
  });
});
