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

  it('accepts a 32-byte secret from the environment, a token lifetime and a maximum session age', () => {
    const secret = 's'.repeat(32);
    const result = loadConfig(
      ['--token-ttl-seconds', '60', '--max-session-hours', '8'],
      { ...keys, SEALSTREAM_JWT_SECRET: secret },
      DEMO_DEFAULTS,
    );
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.api).toEqual({
      jwtSecret: secret,
      tokenTtlSeconds: 60,
      maxSessionHours: 8,
      apiRequestsPerMinute: 600,
      loginAttemptsPerMinute: 10,
      apiKeyRequestsPerMinute: 600,
      corsOrigins: [],
    });
  });

  it('demo mode needs no secret (the hub generates one per start)', () => {
    const result = loadConfig(['--demo'], {}, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.api.jwtSecret).toBeUndefined();
  });

  it('reads CORS origins and refuses anything that is not an origin', () => {
    const env = { ...keys, SEALSTREAM_JWT_SECRET: 's'.repeat(32) };
    const good = loadConfig(['--cors-origins', 'https://ops.example.com, http://localhost:5173'], env, DEMO_DEFAULTS);
    if (!good.ok) throw new Error(good.errors.join('; '));
    expect(good.config.api.corsOrigins).toEqual(['https://ops.example.com', 'http://localhost:5173']);
    const bad = loadConfig(['--cors-origins', 'https://ok.example.com,*'], env, DEMO_DEFAULTS);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.join('\n')).toContain('"*" is not an origin');
  });
});

describe('registry settings', () => {
  const env = { SEALSTREAM_JWT_SECRET: 's'.repeat(32) };

  it('a master key alone is enough to start without config device keys; its value is never echoed', () => {
    const masterKey = 'ab'.repeat(32);
    const result = loadConfig([], { ...env, SEALSTREAM_MASTER_KEY: masterKey }, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.registry.masterKey?.toString('hex')).toBe(masterKey);
    expect(result.config.registry.masterKeyFile).toBeUndefined();
    const bad = loadConfig([], { ...env, SEALSTREAM_MASTER_KEY: 'cd'.repeat(20) }, DEMO_DEFAULTS);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.join('\n')).not.toContain('cd'.repeat(20));
  });

  it('without device keys or a master key a non-demo hub refuses to start; demo keeps a key file', () => {
    const result = loadConfig([], env, DEMO_DEFAULTS);
    expect(result.ok).toBe(false);
    const demo = loadConfig(['--demo', '--data-dir', 'somewhere'], {}, DEMO_DEFAULTS);
    if (!demo.ok) throw new Error(demo.errors.join('; '));
    expect(demo.config.registry.masterKeyFile).toBe('somewhere/master.key');
  });
});
