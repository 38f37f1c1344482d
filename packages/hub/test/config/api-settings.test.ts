import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';

const keys = { SEALSTREAM_DEVICE_KEYS: `k:${'ab'.repeat(32)}` };

describe('API settings', () => {
  it('outside demo mode the hub refuses to start without a JWT secret', () => {
    const result = loadConfig([], keys, DEMO_DEFAULTS);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).toContain('SEALSTREAM_JWT_SECRET');
  });

  it('refuses a secret shorter than 32 bytes without echoing it', () => {
    const result = loadConfig(['--jwt-secret', 'short-secret-31-bytes-long-xxxx'], keys, DEMO_DEFAULTS);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.errors.join('\n')).not.toContain('short-secret');
  });

  it('accepts a 32-byte secret from the environment and a token lifetime', () => {
    const secret = 's'.repeat(32);
    const result = loadConfig(['--token-ttl-seconds', '60'], { ...keys, SEALSTREAM_JWT_SECRET: secret }, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.api).toEqual({
      jwtSecret: secret,
      tokenTtlSeconds: 60,
      apiRequestsPerMinute: 600,
      loginAttemptsPerMinute: 10,
    });
  });

  it('demo mode needs no secret (the hub generates one per start)', () => {
    const result = loadConfig(['--demo'], {}, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.api.jwtSecret).toBeUndefined();
  });
});
