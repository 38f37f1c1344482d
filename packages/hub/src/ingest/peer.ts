/** A printable peer description for logs and dead letters; never includes credentials. */
import type { Socket } from 'node:net';

export function describePeer(socket: Socket): string {
  const address = socket.remoteAddress ?? 'unknown';
  return address.includes(':') ? `[${address}]:${socket.remotePort ?? 0}` : `${address}:${socket.remotePort ?? 0}`;
}
