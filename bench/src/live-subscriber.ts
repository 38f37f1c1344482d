/**
 * The Socket.IO side of the latency probe: a v2 dashboard client that subscribes to a sample of devices
 * and reports, for each live reading of those devices, the time from its creation on the emitter (`ts`)
 * to its arrival here, and every `stats` event the hub sends. Shared by the in-process probe and the
 * probe's own process (latency-probe-child.ts).
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, LiveStats, ServerToClientEvents } from '@sealstream/protocol';

export interface LiveSubscriberHandlers {
  /**
   * One live reading of a followed device: milliseconds from creation to arrival, and the part of it
   * before the hub's commit (`committedAt - ts`; both clocks are this machine's).
   */
  onLatency(ms: number, toCommitMs: number): void;
  /** Readings the hub's per-client cap dropped for this subscriber. */
  onDropped(count: number): void;
  onStats(stats: LiveStats): void;
}

export interface LiveSubscriber {
  close(): void;
}

export async function connectLiveSubscriber(
  httpPort: number,
  devices: readonly string[],
  token: string,
  handlers: LiveSubscriberHandlers,
): Promise<LiveSubscriber> {
  const wanted = new Set(devices.map((device) => `device:${device}`));
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`http://127.0.0.1:${httpPort}`, {
    auth: { protocol: 2, token },
    transports: ['websocket'],
    reconnection: false,
  });
  socket.on('readings', (batch) => {
    if (!wanted.has(batch.room)) return;
    const now = Date.now();
    if (batch.dropped > 0) handlers.onDropped(batch.dropped);
    for (const reading of batch.readings) handlers.onLatency(now - reading.ts, reading.committedAt - reading.ts);
  });
  socket.on('stats', (latest) => handlers.onStats(latest));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('live subscriber could not connect')), 10_000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('connect_error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
  if (devices.length > 0) socket.emit('subscribe', { devices });
  return { close: () => void socket.close() };
}
