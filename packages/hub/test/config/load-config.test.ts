import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, SETTINGS } from '../../src/config/load-config.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';

const secretHex = 'ab'.repeat(32);

describe('loadConfig', () => {
  it('demo mode needs nothing else and defaults to PGlite with the legacy listener on 4000', () => {
    const result = loadConfig(['--demo'], {}, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.store).toEqual({ kind: 'pglite', dataDir: 'data', thread: 'worker', callTimeoutMs: 300_000 });
    expect(result.config.legacyPort).toBe(4000);
    expect(result.config.shutdownTimeoutMs).toBe(60_000);
    expect(result.config.deviceKeys.map((k) => k.keyId)).toEqual(['demo']);
    expect(Object.isFrozen(result.config.limits)).toBe(true);
  });

  it('reads the seed variable names and a server URL, flags overriding env', () => {
    const result = loadConfig(
      ['--legacy-port', '4100'],
      {
        ENCRYPTION_KEY: 'k',
        AUTH_TOKEN: 't',
        DATABASE_URL: 'postgres://u@h/db',
        SEALSTREAM_DEVICE_KEYS: `dev-key:${secretHex}:d1|d2`,
        SEALSTREAM_LEGACY_PORT: '4200',
        SEALSTREAM_JWT_SECRET: 'j'.repeat(32),
      },
      DEMO_DEFAULTS,
    );
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.legacy).toMatchObject({
      encryptionKey: 'k',
      authToken: 't',
      acceptVariants: ['sorted', 'insertion'],
    });
    expect(result.config.legacyPort).toBe(4100);
    expect(result.config.store.kind).toBe('postgres');
    expect(result.config.deviceKeys[0]?.devices).toEqual(['d1', 'd2']);
  });

  it('reports every problem at once and never echoes a secret', () => {
    const result = loadConfig(
      ['--http-port', 'abc', '--max-frame-bytes', '1'],
      { SEALSTREAM_DEVICE_KEYS: 'bad:notasecretvalue123', ENCRYPTION_KEY: 'only-half' },
      DEMO_DEFAULTS,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.length).toBeGreaterThanOrEqual(4);
    expect(result.errors.join('\n')).not.toContain('notasecretvalue123');
    expect(result.errors.join('\n')).not.toContain('only-half');
  });

  it('validates the legacy settings even while the legacy listener is off, naming flag and variable', () => {
    const env = { SEALSTREAM_DEVICE_KEYS: `k1:${secretHex}`, SEALSTREAM_JWT_SECRET: 'j'.repeat(32) };
    for (const argv of [
      ['--legacy-hash', 'bogus', '--legacy-device', 'no spaces'],
      ['--legacy-port', 'off', '--legacy-hash', 'bogus', '--legacy-device', 'no spaces'],
    ]) {
      const result = loadConfig(argv, env, DEMO_DEFAULTS);
      expect(result.ok ? [] : result.errors).toEqual([
        '--legacy-hash / SEALSTREAM_LEGACY_HASH must be sorted, insertion or either',
        '--legacy-device / SEALSTREAM_LEGACY_DEVICE must match [A-Za-z0-9._:-]{1,128}',
      ]);
    }
    const keys = loadConfig(['--device-keys', 'k1:<64 hex>'], { SEALSTREAM_JWT_SECRET: 'j'.repeat(32) }, DEMO_DEFAULTS);
    expect(keys.ok ? [] : keys.errors[0]).toMatch(/^--device-keys \/ SEALSTREAM_DEVICE_KEYS entry 1 must be/);
  });

  it('refuses --http-port off (it was silently ignored and bound 8080), from the flag or the environment', () => {
    for (const [argv, env] of [
      [['--demo', '--http-port', 'off'], {}],
      [['--demo'], { SEALSTREAM_HTTP_PORT: 'off' }],
    ] as const) {
      const result = loadConfig([...argv], env, DEMO_DEFAULTS);
      expect(result.ok).toBe(false);
      expect(result.ok ? [] : result.errors).toEqual([
        expect.stringContaining('--http-port / SEALSTREAM_HTTP_PORT cannot be off'),
      ]);
    }
  });

  it('caps connections per address at a quarter of --max-connections unless set', () => {
    const byDefault = loadConfig(['--demo', '--max-connections', '1000'], {}, DEMO_DEFAULTS);
    expect(byDefault.ok && byDefault.config.limits.maxConnectionsPerAddress).toBe(250);
    const set = loadConfig(['--demo', '--max-connections-per-address', '40'], {}, DEMO_DEFAULTS);
    expect(set.ok && set.config.limits.maxConnectionsPerAddress).toBe(40);
    const bad = loadConfig(['--demo', '--max-connections-per-address', '0'], {}, DEMO_DEFAULTS);
    expect(bad.ok).toBe(false);
  });

  it('refuses repeated key ids and invalid device ids in the device keys; device ids may contain colons', () => {
    const env = (keys: string) => ({ SEALSTREAM_DEVICE_KEYS: keys, SEALSTREAM_JWT_SECRET: 'j'.repeat(32) });
    const twice = loadConfig([], env(`k1:${secretHex},k1:${'cd'.repeat(32)}`), DEMO_DEFAULTS);
    expect(twice.ok ? [] : twice.errors).toEqual([expect.stringContaining('repeats key id k1')]);
    const badDevice = loadConfig([], env(`k1:${secretHex}:good|bad device`), DEMO_DEFAULTS);
    expect(badDevice.ok ? [] : badDevice.errors).toEqual(
      expect.arrayContaining([expect.stringContaining('names a device')]),
    );
    const colons = loadConfig([], env(`k1:${secretHex}:site:a|site:b`), DEMO_DEFAULTS);
    if (!colons.ok) throw new Error(colons.errors.join('; '));
    expect(colons.config.deviceKeys[0]?.devices).toEqual(['site:a', 'site:b']);
  });

  it('refuses a static live token short enough to guess', () => {
    const env = { SEALSTREAM_DEVICE_KEYS: `k1:${secretHex}`, SEALSTREAM_JWT_SECRET: 'j'.repeat(32) };
    const short = loadConfig(['--live-token', 'fifteen-chars-x'], env, DEMO_DEFAULTS);
    expect(short.ok ? [] : short.errors).toEqual([expect.stringContaining('at least 16 characters')]);
    expect(loadConfig(['--live-token', 'sixteen-chars-xx'], env, DEMO_DEFAULTS).ok).toBe(true);
  });

  it('bounds the dead-letter store: 1 000 000 letters and 30 days by default, 0 hours for no age bound', () => {
    const defaults = loadConfig(['--demo'], {}, DEMO_DEFAULTS);
    if (!defaults.ok) throw new Error(defaults.errors.join('; '));
    expect(defaults.config.limits.deadLetterMaxRows).toBe(1_000_000);
    expect(defaults.config.limits.deadLetterMaxAgeMs).toBe(720 * 3_600_000);

    const set = loadConfig(
      ['--demo', '--dead-letter-max-rows', '5000'],
      { SEALSTREAM_DEAD_LETTER_MAX_AGE_HOURS: '0' },
      DEMO_DEFAULTS,
    );
    if (!set.ok) throw new Error(set.errors.join('; '));
    expect(set.config.limits.deadLetterMaxRows).toBe(5000);
    expect(set.config.limits.deadLetterMaxAgeMs).toBeNull();

    const wrong = loadConfig(
      ['--demo', '--dead-letter-max-rows', '999'],
      { SEALSTREAM_DEAD_LETTER_MAX_AGE_HOURS: '1.5' },
      DEMO_DEFAULTS,
    );
    expect(wrong.ok).toBe(false);
    if (wrong.ok) return;
    expect(wrong.errors).toHaveLength(2);
  });

  it('refuses to run without device keys outside demo mode', () => {
    const result = loadConfig([], {}, DEMO_DEFAULTS);
    expect(result.ok).toBe(false);
  });

  it('docs/configuration.md lists every flag and variable', () => {
    const doc = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
    for (const [flag, env] of Object.entries(SETTINGS)) {
      expect(doc, flag).toContain(`\`--${flag}\``);
      expect(doc, env).toContain(`\`${env}\``);
    }
  });
});

describe('loadConfig: roles and scale-out', () => {
  const base = {
    DATABASE_URL: 'postgres://u@h/db',
    SEALSTREAM_DEVICE_KEYS: `k:${secretHex}`,
    SEALSTREAM_JWT_SECRET: 'j'.repeat(32),
  };
  const scaled = {
    ...base,
    SEALSTREAM_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/',
    SEALSTREAM_REDIS_URL: 'redis://127.0.0.1:6379',
  };

  it('defaults to role all, one process, with the bus defaults and no Redis', () => {
    const result = loadConfig([], base, DEMO_DEFAULTS);
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.role).toBe('all');
    expect(result.config.instance).toMatch(/-\d+$/);
    expect(result.config.bus).toEqual({ partitions: 8, prefix: 'sealstream', maxQueueBytes: 268_435_456 });
    expect(result.config.redis).toBeNull();
  });

  it('reads a role list in a fixed order, the instance, bus and Redis settings', () => {
    const result = loadConfig(
      ['--role', 'writer,gateway', '--instance', 'gw-1', '--bus-partitions', '4', '--bus-prefix', 'ss-a'],
      { ...scaled, SEALSTREAM_BUS_MAX_QUEUE_BYTES: '2097152', SEALSTREAM_REDIS_KEY_PREFIX: 'c1:' },
      DEMO_DEFAULTS,
    );
    if (!result.ok) throw new Error(result.errors.join('; '));
    expect(result.config.role).toEqual(['gateway', 'writer']);
    expect(result.config.instance).toBe('gw-1');
    expect(result.config.bus).toEqual({ partitions: 4, prefix: 'ss-a', maxQueueBytes: 2_097_152 });
    expect(result.config.redis).toEqual({ url: 'redis://127.0.0.1:6379', keyPrefix: 'c1:' });
  });

  it('refuses a role without the bus, PGlite, and gateway or api without Redis', () => {
    const noBus = loadConfig(['--role', 'writer'], base, DEMO_DEFAULTS);
    expect(noBus.ok).toBe(false);
    if (!noBus.ok) expect(noBus.errors.join('\n')).toMatch(/needs --amqp-url/);

    const pglite = loadConfig(
      ['--role', 'writer'],
      { ...scaled, DATABASE_URL: undefined, SEALSTREAM_DATA_DIR: 'x' },
      DEMO_DEFAULTS,
    );
    expect(pglite.ok).toBe(false);
    if (!pglite.ok) expect(pglite.errors.join('\n')).toMatch(/PGlite store serves one process/);

    for (const role of ['gateway', 'api']) {
      const noRedis = loadConfig(['--role', role], { ...scaled, SEALSTREAM_REDIS_URL: undefined }, DEMO_DEFAULTS);
      expect(noRedis.ok, role).toBe(false);
      if (!noRedis.ok) expect(noRedis.errors.join('\n')).toMatch(/needs --redis-url/);
    }
    // A writer shares nothing in Redis.
    expect(loadConfig(['--role', 'writer'], { ...scaled, SEALSTREAM_REDIS_URL: undefined }, DEMO_DEFAULTS).ok).toBe(
      true,
    );
  });

  it('refuses unknown roles, `all` in a list, demo with roles, and bad names', () => {
    for (const args of [
      ['--role', 'router'],
      ['--role', 'all,api'],
      ['--role', 'api', '--demo'],
      ['--role', 'api', '--instance', 'has space'],
      ['--role', 'api', '--bus-prefix', 'a/b'],
      ['--role', 'api', '--redis-url', 'http://x'],
      ['--role', 'api', '--bus-partitions', '0'],
    ]) {
      expect(loadConfig(args, scaled, DEMO_DEFAULTS).ok, args.join(' ')).toBe(false);
    }
  });
});
