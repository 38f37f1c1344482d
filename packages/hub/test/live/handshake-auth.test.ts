/** The live channel's credential check: refusals, asynchronous checks, and disconnection at expiry. */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { credentialMiddleware, UNAUTHORIZED } from '../../src/live/handshake-auth.js';

function fakeSocket(
  auth: unknown,
): EventEmitter & { handshake: { auth: unknown }; disconnected: boolean; disconnect(): void } {
  const socket = Object.assign(new EventEmitter(), {
    handshake: { auth },
    disconnected: false,
    disconnect(): void {
      socket.disconnected = true;
      socket.emit('disconnect');
    },
  });
  return socket;
}

function admit(
  middleware: ReturnType<typeof credentialMiddleware>,
  socket: ReturnType<typeof fakeSocket>,
): Promise<Error | undefined> {
  return new Promise((resolve) => middleware(socket, (error) => resolve(error)));
}

describe('credentialMiddleware', () => {
  it('refuses a missing token, a refused one and a check that throws, without saying why', async () => {
    const middleware = credentialMiddleware(async (token) => {
      if (token === 'boom') throw new Error('store down, secret=abc');
      return token === 'good' ? { expiresAt: null } : false;
    });
    for (const auth of [{}, { token: 7 }, { token: 'bad' }, { token: 'boom' }, { token: 'x'.repeat(9000) }]) {
      const error = await admit(middleware, fakeSocket(auth));
      expect(error?.message, JSON.stringify(auth).slice(0, 40)).toBe(UNAUTHORIZED);
    }
    expect(await admit(middleware, fakeSocket({ token: 'good' }))).toBeUndefined();
  });

  it('disconnects an admitted socket when its credential expires, and not before', async () => {
    const middleware = credentialMiddleware(() => ({ expiresAt: Date.now() + 80 }));
    const socket = fakeSocket({ token: 't' });
    expect(await admit(middleware, socket)).toBeUndefined();
    expect(socket.disconnected).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(socket.disconnected).toBe(true);
  });
});
