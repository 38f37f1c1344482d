/** A FrameLink over one TCP connection to the hub's native port. */
import { connect } from 'node:net';
import { encodeClose, FrameDecoder } from '@sealstream/protocol';
import type { FrameLink, FrameLinkHandlers } from './frame-link.js';

export function openTcpLink(
  options: { readonly host: string; readonly port: number; readonly connectTimeoutMs: number },
  handlers: FrameLinkHandlers,
): FrameLink {
  const socket = connect({ host: options.host, port: options.port, noDelay: true });
  const decoder = new FrameDecoder({ maxFrameBytes: 65_536 });
  const connectTimer = setTimeout(() => socket.destroy(new Error('connect timeout')), options.connectTimeoutMs);
  socket.once('connect', () => {
    clearTimeout(connectTimer);
    handlers.onOpen();
  });
  socket.on('data', (chunk: Buffer) => {
    for (const item of decoder.push(chunk)) {
      if (item.ok) handlers.onFrame(item.frame);
      else socket.destroy(new Error(`hub sent an undecodable frame: ${item.reason}`));
    }
  });
  socket.on('drain', () => handlers.onDrain());
  let lastError = 'connection closed';
  socket.on('error', (error) => {
    lastError = error.message;
  });
  socket.on('close', () => {
    clearTimeout(connectTimer);
    handlers.onClose(lastError);
  });
  return {
    heartbeats: true,
    write: (bytes) => socket.write(bytes),
    end: () =>
      new Promise<void>((resolve) => {
        if (socket.destroyed) {
          resolve();
          return;
        }
        socket.once('close', () => resolve());
        // Already ending (the hub's CLOSE was answered): nothing more may be written.
        if (!socket.writableEnded) socket.end(encodeClose(0));
        setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1000).unref();
      }),
    destroy: (reason) => socket.destroy(reason === undefined ? undefined : new Error(reason)),
  };
}
