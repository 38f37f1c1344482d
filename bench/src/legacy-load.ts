/**
 * Drives the hub's legacy listener the way the seed emitter does (AUTH line, then `DATA:` lines of up
 * to 499 per-message tokens, each with its own IV and AES-256-CTR seal), but as fast as the socket
 * drains. Tokens are sealed BEFORE the timed phase, so the timed phase measures the hub rather than
 * the bench's own sealing (which on two cores would take one of them).
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import {
  encodeLegacyAuthLine,
  encodeLegacyDataLine,
  LEGACY_AUTH_OK,
  legacyKey,
  sealLegacyToken,
} from '@sealstream/protocol';

export const LEGACY_TOKENS_PER_LINE = 499;

const NAMES = ['Jack Reacher', 'Ada Lovelace', 'Grace Hopper', 'Alan Turing', 'Edsger Dijkstra'];
const CITIES = ['Bengaluru', 'Mumbai', 'Delhi', 'Chennai', 'Pune', 'Kolkata'];

/** `count` fresh tokens packed into DATA lines. */
export function sealLegacyLines(encryptionKey: string, count: number): Buffer[] {
  const key = legacyKey(encryptionKey);
  const lines: Buffer[] = [];
  for (let made = 0; made < count;) {
    const size = Math.min(LEGACY_TOKENS_PER_LINE, count - made);
    const tokens = new Array<string>(size);
    for (let i = 0; i < size; i += 1) {
      const n = made + i;
      tokens[i] = sealLegacyToken(
        {
          name: NAMES[n % NAMES.length] as string,
          origin: CITIES[n % CITIES.length] as string,
          destination: CITIES[(n + 1) % CITIES.length] as string,
        },
        key,
      );
    }
    lines.push(Buffer.from(encodeLegacyDataLine(tokens), 'latin1'));
    made += size;
  }
  return lines;
}

/** Writes the lines over `connections` authenticated connections, honouring socket backpressure. */
export async function sendLegacyLines(
  port: number,
  authToken: string,
  lines: readonly Buffer[],
  connections: number,
): Promise<void> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => authenticate(port, authToken)));
  await Promise.all(
    sockets.map(async (socket, c) => {
      for (let i = c; i < lines.length; i += connections) {
        if (!socket.write(lines[i] as Buffer)) await once(socket, 'drain');
      }
    }),
  );
  // The legacy protocol has no acknowledgements: end politely and let the caller watch the commits.
  await Promise.all(
    sockets.map(
      (socket) =>
        new Promise<void>((resolve) => {
          socket.once('close', () => resolve());
          socket.end();
        }),
    ),
  );
}

async function authenticate(port: number, authToken: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  socket.write(encodeLegacyAuthLine(authToken));
  let received = '';
  while (!received.includes('\n')) {
    const [chunk] = (await once(socket, 'data')) as [Buffer];
    received += chunk.toString('latin1');
  }
  if (!received.startsWith(LEGACY_AUTH_OK)) {
    socket.destroy();
    throw new Error('legacy listener refused the AUTH token');
  }
  socket.on('error', () => undefined);
  return socket;
}
