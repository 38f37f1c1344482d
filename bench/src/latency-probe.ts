/**
 * A Socket.IO subscriber (a v2 dashboard client) that subscribes to a sample of devices and measures,
 * for each live reading of those devices, the time from its creation on the emitter (`ts`) to its
 * arrival here. The emitter runs in this same process, so both ends read the same clock. It also keeps
 * the hub's latest `stats` event, which is how the bench follows commits that have no acknowledgement
 * (legacy lines).
 */
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, LiveStats, ServerToClientEvents } from '@sealstream/protocol';
import { LatencySamples } from './percentiles.js';

export interface LatencyProbe {
  readonly samples: LatencySamples;
  /** Readings the hub's per-client cap dropped for this subscriber (0 means the sample is complete). */
  dropped(): number;
  latestStats(): LiveStats | undefined;
  close(): void;
}

export async function startLatencyProbe(
  httpPort: number,
  devices: readonly string[],
  token: string,
): Promise<LatencyProbe> {
  const samples = new LatencySamples();
  const wanted = new Set(devices.map((device) => `device:${device}`));
  let dropped = 0;
  let stats: LiveStats | undefined;
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`http://127.0.0.1:${httpPort}`, {
    auth: { protocol: 2, token },
    transports: ['websocket'],
    reconnection: false,
  });
  socket.on('readings', (batch) => {
    if (!wanted.has(batch.room)) return;
    const now = Date.now();
    dropped += batch.dropped;
    for (const reading of batch.readings) samples.add(now - reading.ts);
  });
  socket.on('stats', (latest) => {
    stats = latest;
  });
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
  return {
    samples,
    dropped: () => dropped,
    latestStats: () => stats,
    close: () => void socket.close(),
  };
}
