/**
 * Handshake authentication for the live channel: Socket.IO middlewares that admit a connection only
 * when its `auth.token` equals the configured token (compared in constant time) or passes a check such
 * as API-token verification. The token never appears in the error a client sees.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ExtendedError } from 'socket.io';

export const UNAUTHORIZED = 'unauthorized';

/** The part of a Socket.IO socket the check reads, so it fits a server of any event map. */
interface Handshaking {
  readonly handshake: { readonly auth: unknown };
}

export function tokenMiddleware(
  expectedToken: string,
): (socket: Handshaking, next: (error?: ExtendedError) => void) => void {
  // Digests have a fixed length, so the comparison time does not reveal the token's length either.
  const expected = digest(expectedToken);
  return (socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    if (typeof token === 'string' && timingSafeEqual(digest(token), expected)) next();
    else next(new Error(UNAUTHORIZED));
  };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Admits a connection whose handshake `auth.token` passes `check`; a throwing check refuses. */
export function credentialMiddleware(
  check: (token: string) => boolean,
): (socket: Handshaking, next: (error?: ExtendedError) => void) => void {
  return (socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    let admitted = false;
    try {
      admitted = typeof token === 'string' && token.length <= 8192 && check(token);
    } catch {
      admitted = false;
    }
    if (admitted) next();
    else next(new Error(UNAUTHORIZED));
  };
}
