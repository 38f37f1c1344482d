/**
 * Why a bus connection could not start, in words and with a code: the broker (host:port, vhost, user,
 * never the password), then the cause. Authentication refused, a missing vhost or permission, and a
 * topology declared with other arguments (PRECONDITION_FAILED: another --bus-max-queue-bytes or
 * --bus-partitions) fail at once, since retrying cannot fix them; anything else after the start bound.
 */
import { SealstreamError } from '@sealstream/protocol';

export type BusStartFailure = 'bus_auth_refused' | 'bus_not_allowed' | 'bus_topology_mismatch' | 'bus_unreachable';

export class BusStartError extends SealstreamError {
  declare readonly code: BusStartFailure;

  constructor(code: BusStartFailure, message: string) {
    super(code, message, code === 'bus_unreachable');
    this.name = 'BusStartError';
  }
}

const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is the broker running and listening there?)',
  ECONNRESET: 'the broker closed the connection',
  ETIMEDOUT: 'no answer in time',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS not answering)',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
};

/** The code a failed connect or setup attempt maps to; `bus_unreachable` is the retryable one. */
export function busFailureOf(error: unknown): BusStartFailure {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  if (/ACCESS.REFUSED/.test(message) || code === 403) return 'bus_auth_refused';
  // A close in answer to connection.open is the broker refusing the vhost (amqplib keeps no reply text).
  if (/NOT.ALLOWED/.test(message) || code === 530 || /ConnectionOpenOk; got <ConnectionClose/.test(message)) {
    return 'bus_not_allowed';
  }
  if (/PRECONDITION.FAILED/.test(message) || code === 406) return 'bus_topology_mismatch';
  return 'bus_unreachable';
}

/** What failed, for a person: the broker, then the cause (the broker's own words for a refusal). */
export function describeBusFailure(error: unknown, url: string): string {
  const where = describeBroker(url);
  const failure = busFailureOf(error);
  const message = withoutUrls(error instanceof Error ? error.message : String(error)).slice(0, 400);
  const quoted = /with message "([^"]*)"/.exec(message)?.[1] ?? message;
  switch (failure) {
    case 'bus_auth_refused':
      return `RabbitMQ at ${where} refused the login or an operation (check the user, its password and permissions): ${quoted}`;
    case 'bus_not_allowed':
      return `RabbitMQ at ${where} refused the virtual host (it does not exist, or the user has no permission on it)`;
    case 'bus_topology_mismatch':
      return (
        `RabbitMQ at ${where} holds the bus declared with other settings (every process must use the same ` +
        `--bus-partitions, --bus-prefix and --bus-max-queue-bytes): ${quoted}`
      );
    case 'bus_unreachable': {
      const code = (error as { code?: unknown } | null)?.code;
      const words = typeof code === 'string' ? SOCKET_ERRORS[code] : undefined;
      return `cannot reach RabbitMQ at ${where}: ${words === undefined ? quoted : `${words} (${code as string})`}`;
    }
  }
}

/** host:port (vhost v, user u), never the password. */
export function describeBroker(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'the configured broker (its URL does not parse)';
  }
  const tls = parsed.protocol === 'amqps:';
  const port = parsed.port === '' ? (tls ? '5671' : '5672') : parsed.port;
  const vhost = parsed.pathname === '' || parsed.pathname === '/' ? '/' : decode(parsed.pathname.slice(1));
  const user = decode(parsed.username) || 'guest';
  return `${parsed.hostname}:${port} (vhost ${vhost}, user ${user})`;
}

function withoutUrls(text: string): string {
  return text.replace(/amqps?:\/\/[^\s"]*/gi, '<bus url>');
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
