/** A real HTTP server with Socket.IO and a LiveHub on 127.0.0.1:0, plus real socket.io-client clients. */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import type { ClientToServerEvents, LiveStats, ServerToClientEvents } from '@sealstream/protocol';
import { createLiveHub, type LiveHub, type LiveHubOptions, type LiveServer } from '../../src/live/index.js';
import { createMetrics, type HubMetrics } from '../../src/observability/metrics.js';
import type { DeadLetter, SourceKind, VerifiedReading } from '../../src/pipeline/ports.js';

export type LiveClient = ClientSocket<ServerToClientEvents, ClientToServerEvents>;

export interface Harness {
  readonly io: LiveServer;
  readonly hub: LiveHub;
  readonly metrics: HubMetrics;
  readonly stats: { current: LiveStats };
  client(auth?: Record<string, unknown>): Promise<LiveClient>;
  /** Resolves with the connect_error message. */
  refusedClient(auth?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export function emptyStats(): LiveStats {
  return {
    totalReceived: 0,
    totalValid: 0,
    totalInvalid: 0,
    totalDuplicate: 0,
    successRate: 100,
    readingsPerSec: 0,
    rejectsPerSec: 0,
    rejectsByReason: {},
    at: 0,
  };
}

export async function startHarness(options: Partial<Omit<LiveHubOptions, 'io'>> = {}): Promise<Harness> {
  const http: HttpServer = createServer();
  const io: LiveServer = new Server<ClientToServerEvents, ServerToClientEvents>(http, { serveClient: false });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const metrics = createMetrics();
  const stats = { current: emptyStats() };
  const hub = createLiveHub({ io, getStats: () => stats.current, metrics: metrics.live, ...options });
  const clients: LiveClient[] = [];
  const open = (auth: Record<string, unknown> | undefined): LiveClient => {
    const socket: LiveClient = connect(`http://127.0.0.1:${port}`, {
      transports: ['websocket'],
      reconnection: false,
      forceNew: true,
      ...(auth === undefined ? {} : { auth }),
    });
    clients.push(socket);
    return socket;
  };
  return {
    io,
    hub,
    metrics,
    stats,
    client(auth) {
      const socket = open(auth);
      return new Promise((resolve, reject) => {
        socket.once('connect', () => resolve(socket));
        socket.once('connect_error', reject);
      });
    },
    refusedClient(auth) {
      const socket = open(auth);
      return new Promise((resolve, reject) => {
        socket.once('connect', () => reject(new Error('connection was accepted')));
        socket.once('connect_error', (error) => resolve(error.message));
      });
    },
    async close() {
      for (const socket of clients) socket.disconnect();
      hub.close();
      await new Promise<void>((resolve) => void io.close(() => resolve()));
    },
  };
}

export function reading(
  device: string,
  seq: number,
  source: SourceKind = 'tcp',
  data?: Record<string, unknown>,
): VerifiedReading {
  return {
    device,
    seq,
    ts: 1_700_000_000_000 + seq,
    data: data ?? { value: seq },
    source,
    receivedAt: 1_700_000_000_500 + seq,
  };
}

export function deadLetter(detail: string): DeadLetter {
  return {
    reason: 'integrity_failed',
    source: 'tcp',
    peer: '127.0.0.1:5000',
    device: 'dev-x',
    detail,
    raw: new Uint8Array([1, 2, 3]),
    truncated: false,
    receivedAt: 1_700_000_001_000,
  };
}

/** Collects every payload of one event. */
export function collect<E extends keyof ServerToClientEvents>(
  socket: LiveClient,
  event: E,
): Array<Parameters<ServerToClientEvents[E]>[0]> {
  const seen: Array<Parameters<ServerToClientEvents[E]>[0]> = [];
  // socket.io-client's typed `on` cannot be narrowed by a generic event name; the payload type is E's.
  (socket as unknown as { on(event: string, listener: (payload: unknown) => void): void }).on(event, (payload) =>
    seen.push(payload as Parameters<ServerToClientEvents[E]>[0]),
  );
  return seen;
}

export async function waitFor(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The value of one sample in the registry's text output, or undefined when the series is absent. */
export async function sampleValue(metrics: HubMetrics, series: string): Promise<number | undefined> {
  const text = await metrics.registry.metrics();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
