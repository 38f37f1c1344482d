/**
 * Parses `sealstream emit` arguments into a command. Pure: the caller passes argv and the environment
 * (legacy mode honours the seed's variable names), so the library never reads process.env itself.
 */
import { parseArgs } from 'node:util';
import {
  CipherSuite,
  DEVICE_ID_PATTERN,
  parseSecretHex,
  type CipherSuiteNumber,
  type LegacyHashVariant,
} from '@sealstream/protocol';
import type { FrameTransport } from './frame-link.js';

export type EmitCommand =
  | {
      readonly mode: 'native';
      readonly host: string;
      readonly port: number;
      readonly devices: number;
      readonly devicePrefix: string;
      /** Exact device ids (--device-ids); when set, devices and devicePrefix are not used. */
      readonly deviceIds?: readonly string[];
      readonly rate: number;
      readonly durationSec: number | undefined;
      readonly frameSize: number;
      readonly suite: CipherSuiteNumber;
      readonly keyId: string;
      readonly secret: Buffer;
      readonly connections: number;
      /** TCP to host:port, or through an MQTT broker. */
      readonly transport: FrameTransport;
    }
  | {
      readonly mode: 'legacy';
      readonly host: string;
      readonly port: number;
      readonly encryptionKey: string;
      readonly authToken: string;
      readonly intervalMs: number;
      readonly minMessages: number;
      readonly maxMessages: number;
      readonly bursts: number | undefined;
      readonly tamperFraction: number;
      readonly variant: LegacyHashVariant;
    };

export type EmitArgsResult = { ok: true; command: EmitCommand } | { ok: false; error: string };

const FLAGS = {
  mode: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  devices: { type: 'string' },
  'device-prefix': { type: 'string' },
  'device-ids': { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  'frame-size': { type: 'string' },
  suite: { type: 'string' },
  'key-id': { type: 'string' },
  secret: { type: 'string' },
  connections: { type: 'string' },
  'encryption-key': { type: 'string' },
  'auth-token': { type: 'string' },
  interval: { type: 'string' },
  'min-messages': { type: 'string' },
  'max-messages': { type: 'string' },
  bursts: { type: 'string' },
  tamper: { type: 'string' },
  variant: { type: 'string' },
  transport: { type: 'string' },
  'mqtt-url': { type: 'string' },
  'mqtt-topic-prefix': { type: 'string' },
} as const;

export function emitHelpText(): string {
  return [
    'Usage: sealstream emit --mode native|legacy [options]',
    '',
    "native mode (sealed frames to the hub's native port):",
    '  --host H             hub host (default 127.0.0.1)',
    '  --port P             hub native port (default 7700)',
    '  --devices N          simulated devices (default 10)',
    '  --device-prefix S    device ids are S-1..S-N (default sim)',
    '  --device-ids A,B     send as exactly these device ids (e.g. a registered device), instead of S-1..S-N',
    '  --rate R             readings per second, all devices together (default 1000)',
    '  --duration S         seconds to run (default: until Ctrl-C)',
    '  --frame-size N       readings per frame at most (default 500)',
    '  --suite gcm|ctr      AES-256-GCM or AES-256-CTR+HMAC-SHA256 (default gcm)',
    '  --key-id ID          key id the hub knows (or SEALSTREAM_KEY_ID)',
    "  --secret HEX         the key's 32-byte secret as 64 hex chars (or SEALSTREAM_DEVICE_SECRET)",
    '  --connections N      connections to spread devices over (default 1)',
    '  --transport tcp|mqtt sealed frames over TCP to --host/--port (default) or through an MQTT broker',
    '  --mqtt-url URL       the broker (or SEALSTREAM_MQTT_URL), e.g. mqtt://127.0.0.1:1883',
    '  --mqtt-topic-prefix P  topic levels before <channel>/frames (default sealstream/v1)',
    '',
    'legacy mode (the seed encrypted-timeseries emitter, byte-compatible):',
    '  --host H             listener host (or LISTENER_HOST; default 127.0.0.1)',
    '  --port P             listener port (or LISTENER_PORT; default 4000)',
    '  --encryption-key K   (or ENCRYPTION_KEY) AES key = sha256(K)',
    '  --auth-token T       (or AUTH_TOKEN) sent as AUTH:<T>',
    '  --interval MS        burst interval (or EMIT_INTERVAL_MS; default 10000)',
    '  --min-messages N     smallest burst (default 49)',
    '  --max-messages N     largest burst (default 499)',
    '  --bursts N           stop after N bursts (default: until Ctrl-C)',
    '  --tamper F           corrupt this fraction of tokens, 0..1 (default 0)',
    '  --variant V          secret_key hash: sorted (seed default) or insertion key order',
  ].join('\n');
}

export function parseEmitArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): EmitArgsResult {
  let values: Partial<Record<keyof typeof FLAGS, string>>;
  try {
    values = parseArgs({ args: [...argv], options: FLAGS, strict: true }).values;
  } catch (error) {
    return { ok: false, error: (error as Error).message };
  }
  const errors: string[] = [];
  const number = (
    text: string | undefined,
    name: string,
    fallback: number,
    min: number,
    max: number,
    integer = true,
  ): number => {
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      errors.push(`${name} must be ${integer ? 'an integer' : 'a number'} in [${min}, ${max}], got "${text}"`);
      return fallback;
    }
    return value;
  };

  const mode = values.mode ?? 'native';
  if (mode === 'legacy') {
    const encryptionKey = values['encryption-key'] ?? env.ENCRYPTION_KEY;
    const authToken = values['auth-token'] ?? env.AUTH_TOKEN;
    if (encryptionKey === undefined || encryptionKey === '')
      errors.push('legacy mode needs --encryption-key or ENCRYPTION_KEY');
    if (authToken === undefined || authToken === '') errors.push('legacy mode needs --auth-token or AUTH_TOKEN');
    const minMessages = number(values['min-messages'], '--min-messages', 49, 1, 100_000);
    const maxMessages = number(values['max-messages'], '--max-messages', 499, 1, 100_000);
    if (maxMessages < minMessages) errors.push('--max-messages must be >= --min-messages');
    const variant = values.variant ?? 'sorted';
    if (variant !== 'sorted' && variant !== 'insertion') errors.push('--variant must be sorted or insertion');
    const command: EmitCommand = {
      mode: 'legacy',
      host: values.host ?? env.LISTENER_HOST ?? '127.0.0.1',
      port: number(values.port ?? env.LISTENER_PORT, '--port / LISTENER_PORT', 4000, 1, 65_535),
      encryptionKey: encryptionKey ?? '',
      authToken: authToken ?? '',
      intervalMs: number(
        values.interval ?? env.EMIT_INTERVAL_MS,
        '--interval / EMIT_INTERVAL_MS',
        10_000,
        10,
        86_400_000,
      ),
      minMessages,
      maxMessages,
      bursts: values.bursts === undefined ? undefined : number(values.bursts, '--bursts', 1, 1, 1_000_000_000),
      tamperFraction: number(values.tamper, '--tamper', 0, 0, 1, false),
      variant: variant === 'insertion' ? 'insertion' : 'sorted',
    };
    return errors.length > 0 ? { ok: false, error: errors.join('; ') } : { ok: true, command };
  }
  if (mode !== 'native') return { ok: false, error: `--mode must be native or legacy, got "${mode}"` };

  const keyId = values['key-id'] ?? env.SEALSTREAM_KEY_ID;
  const secretText = values.secret ?? env.SEALSTREAM_DEVICE_SECRET;
  if (keyId === undefined || keyId === '') errors.push('native mode needs --key-id or SEALSTREAM_KEY_ID');
  const secret = secretText === undefined ? undefined : parseSecretHex(secretText);
  // Never echo the secret back, even when it is malformed.
  if (secret === undefined) errors.push('native mode needs --secret or SEALSTREAM_DEVICE_SECRET: 64 hex characters');
  const deviceIds = values['device-ids']?.split(',').map((id) => id.trim());
  if (deviceIds !== undefined && (deviceIds.length === 0 || deviceIds.some((id) => !DEVICE_ID_PATTERN.test(id))))
    errors.push('--device-ids must be a comma-separated list of device ids ([A-Za-z0-9._:-], 1 to 128 characters)');
  const suiteName = values.suite ?? 'gcm';
  if (suiteName !== 'gcm' && suiteName !== 'ctr') errors.push('--suite must be gcm or ctr');
  const host = values.host ?? '127.0.0.1';
  const port = number(values.port, '--port', 7700, 1, 65_535);
  const transportName = values.transport ?? 'tcp';
  let transport: FrameTransport = { kind: 'tcp', host, port };
  if (transportName === 'mqtt') {
    const url = values['mqtt-url'] ?? env.SEALSTREAM_MQTT_URL;
    if (url === undefined || !/^mqtts?:\/\/\S+$/.test(url)) {
      errors.push('--transport mqtt needs --mqtt-url (or SEALSTREAM_MQTT_URL) starting with mqtt:// or mqtts://');
    }
    const topicPrefix = values['mqtt-topic-prefix'];
    transport = { kind: 'mqtt', url: url ?? '', ...(topicPrefix === undefined ? {} : { topicPrefix }) };
  } else if (transportName !== 'tcp') {
    errors.push('--transport must be tcp or mqtt');
  }
  const command: EmitCommand = {
    mode: 'native',
    host,
    port,
    devices: number(values.devices, '--devices', 10, 1, 1_000_000),
    devicePrefix: values['device-prefix'] ?? 'sim',
    ...(deviceIds === undefined ? {} : { deviceIds }),
    rate: number(values.rate, '--rate', 1000, 0.001, 10_000_000, false),
    durationSec:
      values.duration === undefined ? undefined : number(values.duration, '--duration', 10, 0.1, 31_536_000, false),
    frameSize: number(values['frame-size'], '--frame-size', 500, 1, 100_000),
    suite: suiteName === 'ctr' ? CipherSuite.Aes256CtrHmacSha256 : CipherSuite.Aes256Gcm,
    keyId: keyId ?? '',
    secret: secret ?? Buffer.alloc(0),
    connections: number(values.connections, '--connections', 1, 1, 1024),
    transport,
  };
  return errors.length > 0 ? { ok: false, error: errors.join('; ') } : { ok: true, command };
}
