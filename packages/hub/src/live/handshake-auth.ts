/**
 * Handshake authentication for the live channel: a Socket.IO middleware that admits a connection only
 * when its `auth.token` equals the configured token. Compared in constant time; the token never
 * appears in the error a client sees.
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
