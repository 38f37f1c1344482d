/**
 * Which browser origins may open the live channels (Socket.IO and the plain WebSocket). Browsers do not
 * apply CORS to WebSocket upgrades, so the server must read `Origin` itself: otherwise any web page a
 * signed-in operator visits could open the live view with the operator's browser. With `--cors-origins`
 * set, only those origins and the hub's own (the Origin's host equals the request's Host or
 * X-Forwarded-Host) are let in; requests without an Origin (devices, scripts, servers) always are. With
 * no list, nothing is checked (as before the list existed: the dashboard behind a proxy that rewrites
 * Host keeps working).
 */
import type { IncomingMessage } from 'node:http';

export type OriginCheck = (request: IncomingMessage) => boolean;

export function originCheck(allowedOrigins: readonly string[]): OriginCheck {
  if (allowedOrigins.length === 0) return () => true;
  const allowed = new Set(allowedOrigins.map((origin) => origin.toLowerCase()));
  return (request) => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    if (allowed.has(origin.toLowerCase())) return true;
    let host: string;
    try {
      host = new URL(origin).host.toLowerCase();
    } catch {
      return false;
    }
    const forwarded = request.headers['x-forwarded-host'];
    return (
      host === request.headers.host?.toLowerCase() ||
      (typeof forwarded === 'string' && host === forwarded.split(',')[0]?.trim().toLowerCase())
    );
  };
}
