/**
 * Gathers what one turn of the event loop writes to a socket into one system call.
 *
 * amqplib's multiplexer writes every frame to the socket on its own (a publish is two or three frames,
 * an ack one), and with Nagle's algorithm off (bus-connection.ts says why) each write is a system call
 * that on loopback also runs the receiver's TCP path: at 20K readings/s through the bus that was a sixth
 * of the writer's busy time. Corked from the first write of a turn and uncorked on the next tick, the
 * frames of a turn leave together as one writev, and no later than they would have otherwise: nothing
 * waits for a timer or for more data, only for the current turn to end.
 */
import type { Socket } from 'node:net';

const corking = new WeakSet<Socket>();

/** Installs the gathering on `socket` (once; later calls for the same socket do nothing). */
export function autocork(socket: Socket): void {
  if (corking.has(socket)) return;
  corking.add(socket);
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  socket.write = ((...args: unknown[]): boolean => {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  }) as Socket['write'];
}

/** amqplib's socket under a connection, when it is one (a net or TLS socket). */
export function amqpSocketOf(connection: unknown): Socket | undefined {
  const stream = (connection as { stream?: unknown } | undefined)?.stream;
  const candidate = stream as Partial<Socket> | undefined;
  return typeof candidate?.cork === 'function' &&
    typeof candidate.uncork === 'function' &&
    typeof candidate.write === 'function' &&
    typeof candidate.setNoDelay === 'function'
    ? (stream as Socket)
    : undefined;
}
