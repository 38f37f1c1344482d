/**
 * Reads the hub's configuration once from command-line flags and environment variables (flags win),
 * validates everything, reports ALL problems together, and returns a frozen HubConfig.
 * Only the CLI calls this; libraries receive the resulting values.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { DEVICE_ID_PATTERN, KEY_ID_PATTERN, parseSecretHex, type LegacyHashVariant } from '@sealstream/protocol';
import {
  MAX_STRING_SECRET_BYTES,
  MIN_STRING_SECRET_BYTES,
  XRAYIOT_DEFAULT_SECRET,
  stringCredential,
} from '../pipeline/keyring.js';
import { hostname } from 'node:os';
import { DEFAULT_TOPIC_PREFIX, isValidPrefix } from '../ingest/mqtt/mqtt-topics.js';
import type { DeviceKeyConfig, HubConfig, HubRole } from './hub-config.js';

/** Shortest static live token accepted (`--live-token`): 16 random characters are beyond guessing. */
const MIN_LIVE_TOKEN_CHARS = 16;

/** The embedded store's own default bound on one PGlite call (store/pglite-worker-executor.ts). */
const DEFAULT_PGLITE_CALL_TIMEOUT_MS = 300_000;

/** Same floor as the API's own check; HS256 keys shorter than the hash output are brute-forceable. */
const MIN_JWT_SECRET_BYTES = 32;

/**
 * The InsightHub clients' JWT_SECRET: lower than the API's floor so their existing secret can be kept,
 * but a secret this short or shorter falls to an offline search from one captured token.
 */
const MIN_INGEST_JWT_SECRET_BYTES = 16;

export type Env = Readonly<Record<string, string | undefined>>;
export type ConfigResult = { ok: true; config: HubConfig } | { ok: false; errors: string[] };

/** Flag name -> environment variable, documented in docs/configuration.md. */
export const SETTINGS = {
  host: 'SEALSTREAM_HOST',
  'http-port': 'SEALSTREAM_HTTP_PORT',
  'tcp-port': 'SEALSTREAM_TCP_PORT',
  'legacy-port': 'SEALSTREAM_LEGACY_PORT',
  'monitor-port': 'SEALSTREAM_MONITOR_PORT',
  'data-dir': 'SEALSTREAM_DATA_DIR',
  'database-url': 'DATABASE_URL',
  'database-schema': 'SEALSTREAM_DATABASE_SCHEMA',
  'database-pool-size': 'SEALSTREAM_DATABASE_POOL_SIZE',
  'device-keys': 'SEALSTREAM_DEVICE_KEYS',
  'encryption-key': 'ENCRYPTION_KEY',
  'auth-token': 'AUTH_TOKEN',
  'legacy-device': 'SEALSTREAM_LEGACY_DEVICE',
  'legacy-hash': 'SEALSTREAM_LEGACY_HASH',
  'max-frame-bytes': 'SEALSTREAM_MAX_FRAME_BYTES',
  'max-readings-per-frame': 'SEALSTREAM_MAX_READINGS_PER_FRAME',
  'max-line-bytes': 'SEALSTREAM_MAX_LINE_BYTES',
  'max-tokens-per-line': 'SEALSTREAM_MAX_TOKENS_PER_LINE',
  'max-batch-rows': 'SEALSTREAM_MAX_BATCH_ROWS',
  'max-queued-rows': 'SEALSTREAM_MAX_QUEUED_ROWS',
  'commit-concurrency': 'SEALSTREAM_COMMIT_CONCURRENCY',
  'commit-parallel-min-rows': 'SEALSTREAM_COMMIT_PARALLEL_MIN_ROWS',
  'rollup-flush-ms': 'SEALSTREAM_ROLLUP_FLUSH_MS',
  'pglite-thread': 'SEALSTREAM_PGLITE_THREAD',
  'pglite-call-timeout-ms': 'SEALSTREAM_PGLITE_CALL_TIMEOUT_MS',
  'commit-retry-deadline-ms': 'SEALSTREAM_COMMIT_RETRY_DEADLINE_MS',
  'max-clock-skew-ms': 'SEALSTREAM_MAX_CLOCK_SKEW_MS',
  'max-reading-age-ms': 'SEALSTREAM_MAX_READING_AGE_MS',
  'max-reading-future-ms': 'SEALSTREAM_MAX_READING_FUTURE_MS',
  'idle-timeout-ms': 'SEALSTREAM_IDLE_TIMEOUT_MS',
  'partial-frame-timeout-ms': 'SEALSTREAM_PARTIAL_FRAME_TIMEOUT_MS',
  'legacy-idle-timeout-ms': 'SEALSTREAM_LEGACY_IDLE_TIMEOUT_MS',
  'legacy-workers': 'SEALSTREAM_LEGACY_WORKERS',
  'http-request-timeout-ms': 'SEALSTREAM_HTTP_REQUEST_TIMEOUT_MS',
  'shutdown-timeout-ms': 'SEALSTREAM_SHUTDOWN_TIMEOUT_MS',
  'max-connections': 'SEALSTREAM_MAX_CONNECTIONS',
  'max-connections-per-address': 'SEALSTREAM_MAX_CONNECTIONS_PER_ADDRESS',
  'dead-letter-raw-bytes': 'SEALSTREAM_DEAD_LETTER_RAW_BYTES',
  'dead-letters-per-second': 'SEALSTREAM_DEAD_LETTERS_PER_SECOND',
  'dead-letter-max-rows': 'SEALSTREAM_DEAD_LETTER_MAX_ROWS',
  'dead-letter-max-age-hours': 'SEALSTREAM_DEAD_LETTER_MAX_AGE_HOURS',
  'max-in-flight-frames': 'SEALSTREAM_MAX_IN_FLIGHT_FRAMES',
  'max-in-flight-lines': 'SEALSTREAM_MAX_IN_FLIGHT_LINES',
  'live-tick-ms': 'SEALSTREAM_LIVE_TICK_MS',
  'live-token': 'SEALSTREAM_LIVE_TOKEN',
  'live-public': 'SEALSTREAM_LIVE_PUBLIC',
  'log-level': 'SEALSTREAM_LOG_LEVEL',
  'jwt-secret': 'SEALSTREAM_JWT_SECRET',
  'token-ttl-seconds': 'SEALSTREAM_TOKEN_TTL_SECONDS',
  'max-session-hours': 'SEALSTREAM_MAX_SESSION_HOURS',
  'api-rate-limit': 'SEALSTREAM_API_RATE_LIMIT',
  'login-rate-limit': 'SEALSTREAM_LOGIN_RATE_LIMIT',
  'api-key-rate-limit': 'SEALSTREAM_API_KEY_RATE_LIMIT',
  'cors-origins': 'SEALSTREAM_CORS_ORIGINS',
  'master-key': 'SEALSTREAM_MASTER_KEY',
  'key-rotation-overlap-seconds': 'SEALSTREAM_KEY_ROTATION_OVERLAP_SECONDS',
  'registry-refresh-ms': 'SEALSTREAM_REGISTRY_REFRESH_MS',
  'ingest-rate-limit': 'SEALSTREAM_INGEST_RATE_LIMIT',
  'signature-tolerance-seconds': 'SEALSTREAM_SIGNATURE_TOLERANCE_SECONDS',
  'demo-devices': 'SEALSTREAM_DEMO_DEVICES',
  'demo-rate': 'SEALSTREAM_DEMO_RATE',
  'demo-legacy-interval-ms': 'SEALSTREAM_DEMO_LEGACY_INTERVAL_MS',
  'amqp-url': 'SEALSTREAM_AMQP_URL',
  'amqp-prefetch': 'SEALSTREAM_AMQP_PREFETCH',
  'amqp-retry-delay-ms': 'SEALSTREAM_AMQP_RETRY_DELAY_MS',
  'amqp-max-in-hand-bytes': 'SEALSTREAM_AMQP_MAX_IN_HAND_BYTES',
  'database-read-pool-size': 'SEALSTREAM_DATABASE_READ_POOL_SIZE',
  'read-queue': 'SEALSTREAM_READ_QUEUE',
  'read-wait-ms': 'SEALSTREAM_READ_WAIT_MS',
  'read-timeout-ms': 'SEALSTREAM_READ_TIMEOUT_MS',
  'max-metrics-per-device': 'SEALSTREAM_MAX_METRICS_PER_DEVICE',
  'ingest-jwt-secret': 'SEALSTREAM_INGEST_JWT_SECRET',
  'mqtt-url': 'SEALSTREAM_MQTT_URL',
  'mqtt-client-id': 'SEALSTREAM_MQTT_CLIENT_ID',
  'mqtt-group': 'SEALSTREAM_MQTT_GROUP',
  'mqtt-topic-prefix': 'SEALSTREAM_MQTT_TOPIC_PREFIX',
  'mqtt-connections': 'SEALSTREAM_MQTT_CONNECTIONS',
  'mqtt-receive-maximum': 'SEALSTREAM_MQTT_RECEIVE_MAXIMUM',
  'mqtt-frames-per-message': 'SEALSTREAM_MQTT_FRAMES_PER_MESSAGE',
  role: 'SEALSTREAM_ROLE',
  instance: 'SEALSTREAM_INSTANCE',
  'bus-partitions': 'SEALSTREAM_BUS_PARTITIONS',
  'bus-prefix': 'SEALSTREAM_BUS_PREFIX',
  'bus-max-queue-bytes': 'SEALSTREAM_BUS_MAX_QUEUE_BYTES',
  'redis-url': 'SEALSTREAM_REDIS_URL',
  'redis-key-prefix': 'SEALSTREAM_REDIS_KEY_PREFIX',
} as const;

type SettingName = keyof typeof SETTINGS;

export interface DemoDefaults {
  /** Key id and secret of the shared demo key (demo mode only). */
  readonly keyId: string;
  readonly secret: Buffer;
  readonly encryptionKey: string;
  readonly authToken: string;
  /** AUTH tokens the demo's legacy listener accepts beside authToken (when AUTH_TOKEN is not set). */
  readonly extraAuthTokens?: readonly string[];
}

export function loadConfig(argv: readonly string[], env: Env, demoDefaults: DemoDefaults): ConfigResult {
  const options = Object.fromEntries(
    Object.keys(SETTINGS).map((name) => [name, { type: 'string' as const }]),
  ) as Record<SettingName, { type: 'string' }>;
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { ...options, demo: { type: 'boolean' } }, strict: true });
  } catch (error) {
    return { ok: false, errors: [(error as Error).message] };
  }
  const values = parsed.values as Partial<Record<SettingName, string>> & { demo?: boolean };
  const errors: string[] = [];
  const raw = (name: SettingName): string | undefined => {
    const flag = values[name];
    if (flag !== undefined) return flag;
    const fromEnv = env[SETTINGS[name]];
    return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
  };
  const int = (name: SettingName, fallback: number, min: number, max: number): number => {
    const text = raw(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      errors.push(`--${name} / ${SETTINGS[name]} must be an integer in [${min}, ${max}], got "${text}"`);
      return fallback;
    }
    return value;
  };
  const flag = (name: SettingName, fallback: boolean): boolean => {
    const text = raw(name);
    if (text === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(text)) return true;
    if (['0', 'false', 'no', 'off'].includes(text)) return false;
    errors.push(`--${name} / ${SETTINGS[name]} must be true or false, got "${text}"`);
    return fallback;
  };
  const port = (name: SettingName, fallback: number | null): number | null => {
    const text = raw(name);
    if (text === 'off') return null;
    const value = int(name, fallback ?? 0, 0, 65_535);
    return text === undefined ? fallback : value;
  };

  // The HTTP port carries the API, the dashboard, live streams, HTTP ingest and (without --monitor-port)
  // health and metrics: a hub without it could be neither used nor watched, so `off` is refused, not ignored.
  if (raw('http-port') === 'off') {
    errors.push(
      '--http-port / SEALSTREAM_HTTP_PORT cannot be off: it serves the API, the dashboard, live streams and HTTP ingest (give a port, or 0 for any free one)',
    );
  }
  const demo = values.demo === true || env.SEALSTREAM_DEMO === '1' || env.SEALSTREAM_DEMO === 'true';
  const databaseUrl = raw('database-url');
  const store: HubConfig['store'] =
    databaseUrl !== undefined
      ? {
          kind: 'postgres',
          url: databaseUrl,
          schema: raw('database-schema'),
          poolSize: int('database-pool-size', 8, 1, 64),
        }
      : {
          kind: 'pglite',
          dataDir: raw('data-dir') ?? 'data',
          thread: pgliteThread(raw('pglite-thread'), errors),
          callTimeoutMs: int('pglite-call-timeout-ms', DEFAULT_PGLITE_CALL_TIMEOUT_MS, 10_000, 86_400_000),
        };
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    errors.push('--database-url / DATABASE_URL must start with postgres:// or postgresql://');
  }

  const deviceKeys = parseDeviceKeys(raw('device-keys'), demo, errors);
  if (demo) deviceKeys.push({ keyId: demoDefaults.keyId, secret: demoDefaults.secret, devices: 'any' });

  const legacy = legacySettings(raw, demo, demoDefaults, errors);
  const logLevel = raw('log-level') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    errors.push(`--log-level / SEALSTREAM_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent`);
  }
  // Live handshakes are not rate limited per address: a static token must be too long to guess.
  const liveToken = raw('live-token');
  if (liveToken !== undefined && liveToken.length < MIN_LIVE_TOKEN_CHARS) {
    errors.push(`--live-token / SEALSTREAM_LIVE_TOKEN must be at least ${MIN_LIVE_TOKEN_CHARS} characters`);
  }
  const maxFrameBytes = int('max-frame-bytes', 1_048_576, 64, 16 * 1_048_576);
  const maxQueuedRows = int('max-queued-rows', 200_000, 1_000, 10_000_000);
  const maxReadingsPerFrame = int('max-readings-per-frame', 10_000, 1, 100_000);
  const maxConnections = int('max-connections', 5_000, 1, 1_000_000);
  // Default a quarter of the bound, as one address's share of the dead-letter budget.
  const maxConnectionsPerAddress = int(
    'max-connections-per-address',
    Math.max(1, Math.floor(maxConnections / 4)),
    1,
    1_000_000,
  );
  if (maxReadingsPerFrame > maxQueuedRows / 2)
    errors.push('max-readings-per-frame must be at most half of max-queued-rows');

  const role = roleSetting(raw('role'), errors);
  const config: HubConfig = {
    role,
    instance: instanceSetting(raw('instance'), errors),
    bus: {
      partitions: int('bus-partitions', 8, 1, 1024),
      prefix: busPrefix(raw('bus-prefix'), errors),
      maxQueueBytes: int('bus-max-queue-bytes', 268_435_456, 1_048_576, 68_719_476_736),
    },
    redis: redisSettings(raw, errors),
    demo,
    host: raw('host') ?? '127.0.0.1',
    httpPort: port('http-port', 8080) ?? 8080,
    tcpPort: port('tcp-port', 7700),
    legacyPort: legacy === null ? null : port('legacy-port', 4000),
    monitorPort: port('monitor-port', null),
    store,
    deviceKeys,
    legacy,
    limits: {
      maxFrameBytes,
      maxReadingsPerFrame,
      maxLineBytes: int('max-line-bytes', 1_048_576, 1024, 16 * 1_048_576),
      maxTokensPerLine: int('max-tokens-per-line', 5000, 1, 1_000_000),
      maxBatchRows: int('max-batch-rows', 10_000, 1, 100_000),
      maxQueuedRows,
      // Two on PGlite too: its one connection runs one commit at a time, but the next commit's rows, COPY
      // text and minute fold are prepared on the main thread meanwhile (+12 % in the bench).
      commitConcurrency: int('commit-concurrency', 2, 1, 16),
      commitParallelMinRows: int('commit-parallel-min-rows', 1, 1, 1_000_000),
      rollupFlushMs: int('rollup-flush-ms', 250, 50, 60_000),
      commitRetryDeadlineMs: int('commit-retry-deadline-ms', 30_000, 0, 600_000),
      maxClockSkewMs: int('max-clock-skew-ms', 300_000, 1_000, 86_400_000),
      maxReadingAgeMs: int('max-reading-age-ms', 30 * 86_400_000, 60_000, 3650 * 86_400_000),
      maxReadingFutureMs: int('max-reading-future-ms', 300_000, 0, 86_400_000),
      idleTimeoutMs: int('idle-timeout-ms', 60_000, 1_000, 3_600_000),
      partialFrameTimeoutMs: int('partial-frame-timeout-ms', 15_000, 100, 600_000),
      legacyIdleTimeoutMs: int('legacy-idle-timeout-ms', 300_000, 1_000, 86_400_000),
      // One core is the event loop's; the others (up to 4) may open legacy lines.
      legacyWorkers: int('legacy-workers', Math.min(4, availableParallelism() - 1), 0, 64),
      httpRequestTimeoutMs: int('http-request-timeout-ms', 30_000, 200, 600_000),
      maxConnectionsPerListener: maxConnections,
      maxConnectionsPerAddress,
      deadLetterRawBytes: int('dead-letter-raw-bytes', 4096, 0, 1_048_576),
      deadLettersPerSecond: int('dead-letters-per-second', 1000, 1, 1_000_000),
      deadLetterMaxRows: int('dead-letter-max-rows', 1_000_000, 1_000, 1_000_000_000),
      deadLetterMaxAgeMs: hoursOrNone(int('dead-letter-max-age-hours', 720, 0, 87_600)),
      maxInFlightFramesPerConnection: int('max-in-flight-frames', 256, 1, 65_536),
      maxInFlightLinesPerConnection: int('max-in-flight-lines', 32, 1, 1_024),
    },
    live: {
      tickMs: int('live-tick-ms', 50, 10, 5_000),
      token: liveToken,
      public: flag('live-public', demo),
    },
    api: apiSettings(raw, int, demo, errors),
    registry: registrySettings(raw, int, demo, errors),
    ingest: {
      requestsPerDevicePerMinute: int('ingest-rate-limit', 60_000, 1, 100_000_000),
      signatureToleranceMs: int('signature-tolerance-seconds', 300, 1, 3_600) * 1000,
      jwtSecret: ingestJwtSecret(raw('ingest-jwt-secret'), errors),
    },
    amqp: amqpSettings(raw, int, errors),
    reads: {
      poolSize: int('database-read-pool-size', 2, 1, 64),
      maxWaiting: int('read-queue', 32, 0, 10_000),
      maxWaitMs: int('read-wait-ms', 5_000, 10, 600_000),
      timeoutMs: int('read-timeout-ms', 10_000, 100, 3_600_000),
    },
    maxMetricsPerDevice: int('max-metrics-per-device', 256, 1, 100_000),
    logLevel,
    shutdownTimeoutMs: int('shutdown-timeout-ms', 60_000, 1_000, 3_600_000),
    mqtt: mqttSettings(raw, int, errors),
    demoDevices: {
      count: int('demo-devices', 5, 0, 10_000),
      rate: int('demo-rate', 50, 1, 1_000_000),
      legacyIntervalMs: int('demo-legacy-interval-ms', 10_000, 100, 3_600_000),
    },
  };
  scaleOutChecks(config, errors);
  const ingesting = role === 'all' || role.includes('gateway');
  if (
    ingesting &&
    !demo &&
    config.deviceKeys.length === 0 &&
    config.registry.masterKey === undefined &&
    config.tcpPort !== null
  ) {
    errors.push(
      'no device keys: set SEALSTREAM_DEVICE_KEYS (keyId:hexsecret[:dev1|dev2],...), or SEALSTREAM_MASTER_KEY to register devices through the API, or run with --demo',
    );
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config: deepFreeze(config) };
}

/** API token settings; the JWT secret is required outside demo mode (demo generates one per start). */
function apiSettings(
  raw: (name: SettingName) => string | undefined,
  int: (name: SettingName, fallback: number, min: number, max: number) => number,
  demo: boolean,
  errors: string[],
): HubConfig['api'] {
  const jwtSecret = raw('jwt-secret');
  if (jwtSecret === undefined && !demo) {
    errors.push('--jwt-secret / SEALSTREAM_JWT_SECRET is required outside demo mode (at least 32 bytes, random)');
  } else if (jwtSecret !== undefined && Buffer.byteLength(jwtSecret) < MIN_JWT_SECRET_BYTES) {
    // Say how long it must be, never what it was.
    errors.push(`--jwt-secret / SEALSTREAM_JWT_SECRET must be at least ${MIN_JWT_SECRET_BYTES} bytes`);
  }
  const apiRequestsPerMinute = int('api-rate-limit', 600, 1, 1_000_000);
  const corsOrigins = (raw('cors-origins') ?? '')
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(origin)) {
      errors.push(`--cors-origins / SEALSTREAM_CORS_ORIGINS: "${origin}" is not an origin like https://host[:port]`);
    }
  }
  return {
    jwtSecret,
    tokenTtlSeconds: int('token-ttl-seconds', 900, 30, 86_400),
    maxSessionHours: int('max-session-hours', 12, 1, 720),
    apiRequestsPerMinute,
    loginAttemptsPerMinute: int('login-rate-limit', 10, 1, 10_000),
    apiKeyRequestsPerMinute: int('api-key-rate-limit', apiRequestsPerMinute, 1, 1_000_000),
    corsOrigins,
  };
}

/** The master key that seals device secrets: required to issue keys; in demo mode kept in the data folder. */
function registrySettings(
  raw: (name: SettingName) => string | undefined,
  int: (name: SettingName, fallback: number, min: number, max: number) => number,
  demo: boolean,
  errors: string[],
): HubConfig['registry'] {
  const text = raw('master-key');
  const masterKey = text === undefined ? undefined : parseSecretHex(text);
  if (text !== undefined && masterKey === undefined) {
    // Say what shape it needs, never what it was.
    errors.push('--master-key / SEALSTREAM_MASTER_KEY must be 64 hex characters (32 random bytes)');
  }
  return {
    masterKey,
    masterKeyFile: demo && text === undefined ? `${raw('data-dir') ?? 'data'}/master.key` : undefined,
    rotationOverlapMs: int('key-rotation-overlap-seconds', 86_400, 0, 30 * 86_400) * 1000,
    refreshMs: int('registry-refresh-ms', 2_000, 100, 600_000),
  };
}

/**
 * `keyId:64-hex-secret[:device|device...]` or `keyId:utf8=<string>[:device|device...]` (a string HMAC
 * credential, XRayIOT's HMAC_SECRET; percent-encode `,` `:` `%` in it), comma-separated; no device list =
 * the key may speak for any device.
 */
function parseDeviceKeys(text: string | undefined, demo: boolean, errors: string[]): DeviceKeyConfig[] {
  if (text === undefined) return [];
  const keys: DeviceKeyConfig[] = [];
  for (const [index, entry] of text.split(',').entries()) {
    // Device ids may contain ':' themselves: everything after the secret is the device list.
    const [keyId = '', secretText = '', ...rest] = entry.trim().split(':');
    const devices = rest.length === 0 || rest.join(':') === '' ? 'any' : rest.join(':').split('|');
    const secrets = secretText.startsWith('utf8=')
      ? stringSecret(secretText.slice('utf8='.length), index, demo, errors)
      : hexSecret(secretText);
    if (secrets === null) continue;
    if (!KEY_ID_PATTERN.test(keyId) || secrets === undefined) {
      // Say which entry and why, never echo the secret.
      errors.push(
        `--device-keys / SEALSTREAM_DEVICE_KEYS entry ${index + 1} must be keyId:<64 hex chars>[:dev1|dev2] or keyId:utf8=<string>[:dev1|dev2]`,
      );
      continue;
    }
    if (keys.some((key) => key.keyId === keyId)) {
      errors.push(`--device-keys / SEALSTREAM_DEVICE_KEYS entry ${index + 1} repeats key id ${keyId}`);
      continue;
    }
    const badDevice = devices === 'any' ? undefined : devices.find((device) => !DEVICE_ID_PATTERN.test(device));
    if (badDevice !== undefined) {
      errors.push(
        `--device-keys / SEALSTREAM_DEVICE_KEYS entry ${index + 1} names a device that is not 1..128 characters of [A-Za-z0-9._:-]`,
      );
      continue;
    }
    keys.push({ keyId, ...secrets, devices });
  }
  return keys;
}

function hexSecret(text: string): { secret: Buffer } | undefined {
  const secret = parseSecretHex(text);
  return secret === undefined ? undefined : { secret };
}

/** null: refused with its own message (already pushed); undefined: malformed. */
function stringSecret(
  encoded: string,
  index: number,
  demo: boolean,
  errors: string[],
): { secret: Buffer; hmacSecret: Buffer } | null | undefined {
  let text: string;
  try {
    text = decodeURIComponent(encoded);
  } catch {
    return undefined;
  }
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes < MIN_STRING_SECRET_BYTES || bytes > MAX_STRING_SECRET_BYTES) {
    errors.push(
      `--device-keys / SEALSTREAM_DEVICE_KEYS entry ${index + 1}: a utf8= secret must be ${MIN_STRING_SECRET_BYTES}..${MAX_STRING_SECRET_BYTES} bytes`,
    );
    return null;
  }
  if (text === XRAYIOT_DEFAULT_SECRET && !demo) {
    errors.push(
      `--device-keys / SEALSTREAM_DEVICE_KEYS entry ${index + 1} holds XRayIOT's published default secret; set your own (only --demo accepts it)`,
    );
    return null;
  }
  return stringCredential(text);
}

/** XRayIOT's AMQP door: on when --amqp-url is set. */
function amqpSettings(
  raw: (name: SettingName) => string | undefined,
  int: (name: SettingName, fallback: number, min: number, max: number) => number,
  errors: string[],
): HubConfig['amqp'] {
  const url = raw('amqp-url');
  if (url === undefined) return null;
  if (!/^amqps?:\/\//.test(url)) errors.push('--amqp-url / SEALSTREAM_AMQP_URL must start with amqp:// or amqps://');
  return {
    url,
    // Room for the next bursts while one commits: patient bursts commit together (committer.ts).
    prefetch: int('amqp-prefetch', 4000, 1, 65_535),
    retryDelayMs: int('amqp-retry-delay-ms', 5000, 100, 3_600_000),
    // Bodies in hand past which the consumer pauses: the prefetch bounds messages, not bytes.
    maxInHandBytes: int('amqp-max-in-hand-bytes', 64 * 1_048_576, 1_048_576, 16 * 1_073_741_824),
  };
}

function legacySettings(
  raw: (name: SettingName) => string | undefined,
  demo: boolean,
  demoDefaults: DemoDefaults,
  errors: string[],
): HubConfig['legacy'] {
  const encryptionKey = raw('encryption-key') ?? (demo ? demoDefaults.encryptionKey : undefined);
  const authToken = raw('auth-token') ?? (demo ? demoDefaults.authToken : undefined);
  // Only the demo's own defaults bring extra tokens; an AUTH_TOKEN the operator set is the only one.
  const extraAuthTokens = raw('auth-token') === undefined && demo ? [...(demoDefaults.extraAuthTokens ?? [])] : [];
  // Checked even when the listener stays off: every setting is validated at start (docs/configuration.md),
  // so a typo shows now rather than on the day the legacy port is turned on.
  const hash = raw('legacy-hash') ?? 'either';
  const variants: Record<string, readonly LegacyHashVariant[]> = {
    sorted: ['sorted'],
    insertion: ['insertion'],
    either: ['sorted', 'insertion'],
  };
  const acceptVariants = Object.hasOwn(variants, hash) ? variants[hash] : undefined;
  if (acceptVariants === undefined)
    errors.push('--legacy-hash / SEALSTREAM_LEGACY_HASH must be sorted, insertion or either');
  const device = raw('legacy-device') ?? 'legacy';
  if (!DEVICE_ID_PATTERN.test(device))
    errors.push('--legacy-device / SEALSTREAM_LEGACY_DEVICE must match [A-Za-z0-9._:-]{1,128}');
  if (raw('legacy-port') === 'off') return null;
  if (encryptionKey === undefined && authToken === undefined) return null;
  if (encryptionKey === undefined || authToken === undefined) {
    errors.push('the legacy listener needs both ENCRYPTION_KEY and AUTH_TOKEN (or --legacy-port off)');
    return null;
  }
  return { encryptionKey, authToken, extraAuthTokens, device, acceptVariants: acceptVariants ?? ['sorted'] };
}

/** The HS256 secret of InsightHub-style JWT bearers on POST /ingest; undefined: JWT bearers are refused. */
function ingestJwtSecret(secret: string | undefined, errors: string[]): string | undefined {
  if (secret !== undefined && Buffer.byteLength(secret) < MIN_INGEST_JWT_SECRET_BYTES) {
    // Say how long it must be, never what it was.
    errors.push(
      `--ingest-jwt-secret / SEALSTREAM_INGEST_JWT_SECRET must be at least ${MIN_INGEST_JWT_SECRET_BYTES} bytes`,
    );
  }
  return secret;
}

/** MQTT ingest: on when --mqtt-url is set (mqtt:// or mqtts://). */
function mqttSettings(
  raw: (name: SettingName) => string | undefined,
  int: (name: SettingName, fallback: number, min: number, max: number) => number,
  errors: string[],
): HubConfig['mqtt'] {
  const url = raw('mqtt-url');
  if (url === undefined) return null;
  if (!/^mqtts?:\/\/[^\s]+$/.test(url))
    errors.push('--mqtt-url / SEALSTREAM_MQTT_URL must start with mqtt:// or mqtts://');
  const clientId = raw('mqtt-client-id') ?? `sealstream-${hostname()}`;
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(clientId)) {
    errors.push('--mqtt-client-id / SEALSTREAM_MQTT_CLIENT_ID must be 1..100 characters of [A-Za-z0-9._-]');
  }
  const group = raw('mqtt-group') ?? 'sealstream';
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(group)) {
    errors.push('--mqtt-group / SEALSTREAM_MQTT_GROUP must be 1..100 characters of [A-Za-z0-9._-]');
  }
  const topicPrefix = raw('mqtt-topic-prefix') ?? DEFAULT_TOPIC_PREFIX;
  if (!isValidPrefix(topicPrefix)) {
    errors.push(
      '--mqtt-topic-prefix / SEALSTREAM_MQTT_TOPIC_PREFIX must be topic levels without wildcards or a leading $',
    );
  }
  return {
    url,
    clientId,
    group,
    topicPrefix,
    connections: int('mqtt-connections', 4, 1, 64),
    receiveMaximum: int('mqtt-receive-maximum', 16, 1, 65_535),
    framesPerMessage: int('mqtt-frames-per-message', 64, 1, 4096),
  };
}

const ROLES: readonly HubRole[] = ['gateway', 'writer', 'api'];

/** `all` (the default), or a comma list of gateway, writer, api (`all` may not be combined). */
function roleSetting(text: string | undefined, errors: string[]): HubConfig['role'] {
  if (text === undefined || text.trim() === 'all') return 'all';
  const names = text.split(',').map((name) => name.trim());
  const roles: HubRole[] = [];
  for (const name of names) {
    const known = ROLES.find((role) => role === name);
    if (known === undefined) {
      errors.push('--role / SEALSTREAM_ROLE must be all, or a comma list of gateway, writer, api');
      return 'all';
    }
    if (!roles.includes(known)) roles.push(known);
  }
  // In the catalogue's order, so `writer,gateway` and `gateway,writer` are the same process.
  return ROLES.filter((role) => roles.includes(role));
}

function instanceSetting(text: string | undefined, errors: string[]): string {
  const instance = text ?? `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(instance)) {
    errors.push('--instance / SEALSTREAM_INSTANCE must be 1..100 characters of [A-Za-z0-9._:-]');
  }
  return instance;
}

function busPrefix(text: string | undefined, errors: string[]): string {
  const prefix = text ?? 'sealstream';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(prefix)) {
    errors.push('--bus-prefix / SEALSTREAM_BUS_PREFIX must be 1..64 characters of [A-Za-z0-9._-]');
  }
  return prefix;
}

function redisSettings(raw: (name: SettingName) => string | undefined, errors: string[]): HubConfig['redis'] {
  const url = raw('redis-url');
  const keyPrefix = raw('redis-key-prefix') ?? 'sealstream:';
  if (!/^[A-Za-z0-9._:{}-]{1,64}$/.test(keyPrefix)) {
    errors.push('--redis-key-prefix / SEALSTREAM_REDIS_KEY_PREFIX must be 1..64 characters of [A-Za-z0-9._:{}-]');
  }
  if (url === undefined) return null;
  if (!/^rediss?:\/\/\S+$/.test(url))
    errors.push('--redis-url / SEALSTREAM_REDIS_URL must start with redis:// or rediss://');
  return { url, keyPrefix };
}

/**
 * A role other than `all` is one process of several: they meet in the RabbitMQ bus (--amqp-url) and a
 * PostgreSQL server (PGlite is one process's file), and gateways and api nodes share state in Redis.
 */
function scaleOutChecks(config: HubConfig, errors: string[]): void {
  const { role } = config;
  if (role === 'all') return;
  const named = `--role ${role.join(',')}`;
  if (config.amqp === null || config.amqp === undefined) {
    errors.push(`${named} needs --amqp-url / SEALSTREAM_AMQP_URL: the RabbitMQ bus between roles`);
  }
  if (config.store.kind !== 'postgres') {
    errors.push(
      `${named} needs --database-url / DATABASE_URL: the embedded PGlite store serves one process only (use --role all)`,
    );
  }
  if ((role.includes('gateway') || role.includes('api')) && config.redis === null) {
    errors.push(`${named} needs --redis-url / SEALSTREAM_REDIS_URL: gateways and api nodes share state in Redis`);
  }
  if (config.demo) {
    errors.push(`${named} cannot run --demo: demo mode is one process with its own secrets (use --role all)`);
  }
}

/** 0 hours: no age bound. */
function hoursOrNone(hours: number): number | null {
  return hours === 0 ? null : hours * 3_600_000;
}

function pgliteThread(text: string | undefined, errors: string[]): 'worker' | 'main' {
  if (text === undefined || text === 'worker') return 'worker';
  if (text === 'main') return 'main';
  errors.push('--pglite-thread / SEALSTREAM_PGLITE_THREAD must be worker or main');
  return 'worker';
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
