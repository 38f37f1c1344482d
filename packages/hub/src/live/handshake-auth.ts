/**
 * Handshake authentication for the live channel: Socket.IO middlewares that admit a connection only
 * when its `auth.token` equals the configured token (compared in constant time) or passes a check such
 * as API-token verification. The token never appears in the error a client sees.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { ExtendedError } from 'socket.io';
import type { LiveSessions } from './live-sessions.js';

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

/**
 * What a credential check decides: refused, or admitted until `expiresAt` (ms) when the credential
 * expires; `account` names the account the credential belongs to (absent for the static live token),
 * so its connections can be ended when the account is disabled or deleted.
 */
export type CredentialVerdict = false | { readonly expiresAt: number | null; readonly account?: string };

/** The socket a credential check admits: it is disconnected when its credential expires. */
interface AdmittedSocket extends Handshaking {
  disconnect(close?: boolean): unknown;
  once(event: 'disconnect', listener: () => void): unknown;
}

/**
 * Admits a connection whose handshake `auth.token` passes `check` (which may ask the store, e.g. whether
 * the account still exists and is enabled), and disconnects it when the credential expires, so a
 * connection never outlives its token; with `sessions`, it is registered under its account so that
 * disabling or deleting the account ends it at once. A throwing or rejecting check refuses.
 */
export function credentialMiddleware(
  check: (token: string) => CredentialVerdict | Promise<CredentialVerdict>,
  now: () => number = Date.now,
  sessions?: LiveSessions,
): (socket: AdmittedSocket, next: (error?: ExtendedError) => void) => void {
  return (socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === 'object' && auth !== null ? (auth as { token?: unknown }).token : undefined;
    if (typeof token !== 'string' || token.length > 8192) {
      next(new Error(UNAUTHORIZED));
      return;
    }
    Promise.resolve()
      .then(() => check(token))
      .then(
        (verdict) => {
          if (verdict === false) {
            next(new Error(UNAUTHORIZED));
            return;
          }
          if (verdict.expiresAt !== null) {
            // setTimeout's ceiling is ~24.8 days; tokens live minutes to a day.
            const timer = setTimeout(() => socket.disconnect(true), Math.max(0, verdict.expiresAt - now()));
            timer.unref();
            socket.once('disconnect', () => clearTimeout(timer));
          }
          if (sessions !== undefined && verdict.account !== undefined) {
            // Ended at once when the account is disabled or deleted, not when the token expires.
            const forget = sessions.open(verdict.account, () => socket.disconnect(true));
            socket.once('disconnect', forget);
          }
          next();
        },
        () => next(new Error(UNAUTHORIZED)),
      );
  };
}
