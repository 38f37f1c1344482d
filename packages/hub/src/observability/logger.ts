/**
 * The hub's structured logger: pino, JSON lines, with every field name that could carry a secret
 * redacted wherever it appears in the top two levels of a log object, and in request headers.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export const REDACTED = '[redacted]';

/** Field names whose values are never logged. */
const SECRET_FIELDS = [
  'secret',
  'secrets',
  'password',
  'token',
  'authToken',
  'encryptionKey',
  'deviceKeys',
  'key',
  'hmacSecret',
  'apiKey',
  'databaseUrl',
  'connectionString',
];

export const REDACTED_PATHS: readonly string[] = [
  ...SECRET_FIELDS,
  ...SECRET_FIELDS.map((field) => `*.${field}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hmac-signature"]',
  'headers.authorization',
  'headers.cookie',
  'amqpUrl',
  '*.amqpUrl',
];

export interface LoggerOptions {
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  readonly level: string;
  /** Pretty printing is not bundled; JSON lines only. */
  readonly pretty?: false;
  /** Where lines go; standard output by default. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const settings = {
    level: options.level,
    redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
