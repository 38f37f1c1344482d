/**
 * The plain-WebSocket live protocol's messages (JSON text frames), for clients that do not speak
 * Socket.IO. Server to client: `welcome` (first, once), `readings` (committed readings, per tick),
 * `subscribed` (the answer to a subscription change) and `error` (a message that was ignored). Client
 * to server: `subscribe` / `unsubscribe` with a device list, or `subscribe` with `devices: "*"` for
 * every device again. docs/api.md ("Live over a plain WebSocket") documents the same shapes.
 */
import { parseDeviceRequest } from './subscriptions.js';

export const WS_PROTOCOL_VERSION = 1;

export type WsClientRequest =
  | { readonly type: 'subscribe'; readonly devices: readonly string[] | '*' }
  | { readonly type: 'unsubscribe'; readonly devices: readonly string[] }
  | { readonly type: 'invalid'; readonly detail: string };

/** Parses one client text message; anything unexpected is `invalid` with why (never thrown). */
export function parseClientMessage(text: string): WsClientRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { type: 'invalid', detail: 'the message is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { type: 'invalid', detail: 'the message must be a JSON object' };
  }
  const type = (value as { type?: unknown }).type;
  const devices = (value as { devices?: unknown }).devices;
  if (type === 'subscribe' && devices === '*') return { type: 'subscribe', devices: '*' };
  if (type !== 'subscribe' && type !== 'unsubscribe') {
    return { type: 'invalid', detail: 'type must be "subscribe" or "unsubscribe"' };
  }
  const list = parseDeviceRequest({ devices });
  if (list === null || devices === undefined) {
    return { type: 'invalid', detail: 'devices must be "*" or an array of at most 100 device ids' };
  }
  return { type, devices: list };
}

export function welcomeMessage(heartbeatMs: number, tickMs: number): string {
  return JSON.stringify({ type: 'welcome', protocol: WS_PROTOCOL_VERSION, subscription: '*', heartbeatMs, tickMs });
}

export function subscribedMessage(devices: readonly string[] | '*', refused: number): string {
  return JSON.stringify({ type: 'subscribed', devices, refused });
}

export function errorMessage(detail: string): string {
  return JSON.stringify({ type: 'error', reason: 'invalid_request', detail });
}

/**
 * A `readings` message from readings already serialised as the inside of a JSON array (no brackets),
 * so one tick's readings are encoded once however many clients receive them.
 */
export function readingsMessage(innerJson: string, dropped: number): string {
  return `{"type":"readings","readings":[${innerJson}],"dropped":${dropped}}`;
}

/** The inside of `JSON.stringify(items)`, without its brackets ('' for none). */
export function innerJson(items: readonly unknown[]): string {
  return items.length === 0 ? '' : JSON.stringify(items).slice(1, -1);
}
