/**
 * Live over a plain WebSocket (RFC 6455, the `ws` package) for clients that do not speak Socket.IO: a
 * LiveSink beside the Socket.IO fan-out, attached to the hub's HTTP server at one path (`/live/ws`).
 * - Admission at the upgrade, before any WebSocket exists: the connection bound (503), the origin rule
 *   of origin-check.ts (403), then the same credential as the Socket.IO handshake (`Authorization:
 *   Bearer <token>` or `?token=`; an account's API token or the live token; 401). An admitted
 *   connection is closed (1008) when its credential expires, or when its account is ended.
 * - Data: committed readings only, gathered per tick in a TickBuffer with the Socket.IO caps. A client
 *   watching everything (the default) gets the latest reading of each device per tick; a client that
 *   subscribed to devices gets every reading of those devices (per device per tick capped). Each tick's
 *   message is encoded once per distinct content.
 * - Slow clients: one whose socket still buffers more than `maxBufferedBytes` when a tick starts is
 *   skipped for it; what it missed is counted (`sealstream_live_dropped_total{kind="ws"}`) and told to
 *   it in the next message's `dropped`. Memory a client can pin: that bound plus one tick's message.
 * - Heartbeat: a ping every `heartbeatMs`; a peer that has not answered the previous ping is
 *   terminated (a dead peer never holds its slot for long).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { DeadLetter, LiveSink, VerifiedReading } from '../pipeline/ports.js';
import { noopLiveMetrics, type LiveMetrics } from './live-metrics.js';
import type { OriginCheck } from './origin-check.js';
import { SubscriptionRegistry } from './subscriptions.js';
import { TickBuffer } from './tick-buffer.js';
import {
  errorMessage,
  innerJson,
  parseClientMessage,
  readingsMessage,
  subscribedMessage,
  welcomeMessage,
} from './ws-messages.js';

export const WS_LIVE_PATH = '/live/ws';

/** What a credential check decides: refused, or admitted until `expiresAt` (ms), for an account or not. */
export type WsCredentialVerdict = false | { readonly expiresAt: number | null; readonly account?: string };

/** Why an upgrade was refused, for the metrics. */
export type WsRefusal = 'capacity' | 'origin' | 'auth';

export interface WsLiveMetrics extends LiveMetrics {
  refused(cause: WsRefusal): void;
  /** A peer that did not answer a ping within the heartbeat and was terminated. */
  deadPeer(): void;
}

export const noopWsLiveMetrics: WsLiveMetrics = {
  ...noopLiveMetrics,
  refused: () => undefined,
  deadPeer: () => undefined,
};

export interface WsLiveOptions {
  /** The HTTP server whose upgrades at `path` this takes; others are left to their owners (Socket.IO). */
  readonly server: HttpServer;
  readonly path?: string;
  /** Fan-out period; default 50 ms. */
  readonly tickMs?: number;
  /** Readings per client per tick (all devices: devices; one watched device: its readings). Default 500. */
  readonly maxReadingsPerTick?: number;
  /** A client whose socket buffers more than this when a tick starts is skipped. Default 1 MiB. */
  readonly maxBufferedBytes?: number;
  /** Open connections (admitted or being admitted); more are answered 503. Default 1000. */
  readonly maxConnections?: number;
  /** Ping period; a peer silent for a whole period after a ping is terminated. Default 30 s. */
  readonly heartbeatMs?: number;
  /** Largest client message; a larger one closes the connection (1009). Default 4 KiB. */
  readonly maxMessageBytes?: number;
  /** Absent: anyone may connect (a public live view, as Socket.IO with --live-public). */
  readonly authorize?: (token: string) => WsCredentialVerdict | Promise<WsCredentialVerdict>;
  /** Absent: every origin. */
  readonly allowOrigin?: OriginCheck;
  /**
   * Where connections admitted for an account are registered (live-sessions.ts), so that disabling or
   * deleting the account ends them at once, as it ends the account's Socket.IO connections.
   */
  readonly sessions?: { open(account: string, end: () => void): () => void };
  readonly metrics?: WsLiveMetrics;
  readonly onError?: (error: unknown) => void;
}

export interface WsLive {
  readonly sink: LiveSink;
  readonly path: string;
  clientCount(): number;
  /** Closes (1008) every connection admitted with a credential of this account; returns how many. */
  endForAccount(accountId: string): number;
  /** Stops admitting, closes every connection (1001), detaches from the HTTP server. */
  close(): Promise<void>;
}

interface WsClient {
  readonly id: string;
  readonly ws: WebSocket;
  readonly accountId: string | null;
  /** '*': every device (latest per tick); otherwise the devices in the subscription registry. */
  all: boolean;
  alive: boolean;
  /** Items missed while slow, told in the next message. */
  missed: number;
  expiry: NodeJS.Timeout | undefined;
  /** Unregisters it from the live sessions (see `sessions`). */
  endSession: (() => void) | undefined;
}

export function createWsLive(options: WsLiveOptions): WsLive {
  return new WsLiveServer(options);
}

class WsLiveServer implements WsLive {
  readonly sink: LiveSink;
  readonly path: string;
  private readonly wss: WebSocketServer;
  private readonly clients = new Map<string, WsClient>();
  private readonly subscriptions = new SubscriptionRegistry();
  private readonly buffer: TickBuffer;
  private readonly metrics: WsLiveMetrics;
  private readonly tickMs: number;
  private readonly heartbeatMs: number;
  private readonly maxBufferedBytes: number;
  private readonly maxConnections: number;
  private readonly tickTimer: NodeJS.Timeout;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.upgrade(request, socket, head);
  /** Upgrades being admitted (credential check in flight): they count against the bound too. */
  private admitting = 0;
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: WsLiveOptions) {
    this.path = options.path ?? WS_LIVE_PATH;
    this.tickMs = options.tickMs ?? 50;
    this.heartbeatMs = options.heartbeatMs ?? 30_000;
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1_048_576;
    this.maxConnections = options.maxConnections ?? 1000;
    const perTick = options.maxReadingsPerTick ?? 500;
    this.buffer = new TickBuffer({ readingsPerRoom: perTick, rejects: 1, legacyMessages: 1 });
    this.metrics = options.metrics ?? noopWsLiveMetrics;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes ?? 4096,
      // Compression costs CPU per client per message; live rows are small and sent often.
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.sink = {
      committed: (readings, committedAt) => this.committed(readings, committedAt),
      rejected: (letters) => this.rejected(letters),
    };
    options.server.on('upgrade', this.onUpgrade);
    this.tickTimer = setInterval(() => this.tick(), this.tickMs);
    this.tickTimer.unref();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs);
    this.heartbeatTimer.unref();
  }

  clientCount(): number {
    return this.clients.size;
  }

  endForAccount(accountId: string): number {
    let ended = 0;
    for (const client of [...this.clients.values()]) {
      if (client.accountId !== accountId) continue;
      client.ws.close(1008, 'account disabled');
      this.forget(client);
      ended += 1;
    }
    return ended;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.tickTimer);
    clearInterval(this.heartbeatTimer);
    this.options.server.off('upgrade', this.onUpgrade);
    const sockets = [...this.clients.values()].map((client) => client.ws);
    for (const client of [...this.clients.values()]) this.forget(client);
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise<void>((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            ws.once('close', () => resolve());
            ws.close(1001, 'hub shutting down');
            // A peer that does not answer the close handshake is cut off.
            setTimeout(() => ws.terminate(), 1000).unref();
          }),
      ),
    );
    this.wss.close();
  }

  // ---- admission ----

  private upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    let url: URL;
    try {
      url = new URL(request.url ?? '/', 'http://hub.invalid');
    } catch {
      return; // Not a URL this server could own; left to the others (engine.io ends what nobody takes).
    }
    if (url.pathname !== this.path) return;
    if (this.closed) return refuseUpgrade(socket, 503, 'Service Unavailable');
    if (this.clients.size + this.admitting >= this.maxConnections) {
      this.metrics.refused('capacity');
      return refuseUpgrade(socket, 503, 'Service Unavailable', 'Retry-After: 5\r\n');
    }
    if (this.options.allowOrigin !== undefined && !this.options.allowOrigin(request)) {
      this.metrics.refused('origin');
      return refuseUpgrade(socket, 403, 'Forbidden');
    }
    const authorize = this.options.authorize;
    if (authorize === undefined) {
      this.accept(request, socket, head, { expiresAt: null });
      return;
    }
    const token = credentialOf(request, url);
    if (token === undefined) {
      this.metrics.refused('auth');
      return refuseUpgrade(socket, 401, 'Unauthorized');
    }
    this.admitting += 1;
    Promise.resolve()
      .then(() => authorize(token))
      .then(
        (verdict) => verdict,
        () => false as const,
      )
      .then((verdict) => {
        this.admitting -= 1;
        if (verdict === false) {
          this.metrics.refused('auth');
          return refuseUpgrade(socket, 401, 'Unauthorized');
        }
        if (this.closed) return refuseUpgrade(socket, 503, 'Service Unavailable');
        this.accept(request, socket, head, verdict);
      })
      .catch((error: unknown) => this.report(error));
  }

  private accept(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    verdict: Exclude<WsCredentialVerdict, false>,
  ): void {
    if (socket.destroyed) return;
    this.wss.handleUpgrade(request, socket, head, (ws) => this.attach(ws, verdict));
  }

  private attach(ws: WebSocket, verdict: Exclude<WsCredentialVerdict, false>): void {
    this.nextId += 1;
    const client: WsClient = {
      id: `ws-${this.nextId}`,
      ws,
      accountId: verdict.account ?? null,
      all: true,
      alive: true,
      missed: 0,
      expiry: undefined,
      endSession: undefined,
    };
    if (this.options.sessions !== undefined && verdict.account !== undefined) {
      client.endSession = this.options.sessions.open(verdict.account, () => {
        ws.close(1008, 'account disabled');
        this.forget(client);
      });
    }
    if (verdict.expiresAt !== null) {
      // setTimeout's ceiling is ~24.8 days; tokens live minutes to a day.
      client.expiry = setTimeout(
        () => {
          ws.close(1008, 'credential expired');
          this.forget(client);
        },
        Math.max(0, verdict.expiresAt - Date.now()),
      );
      client.expiry.unref();
    }
    this.clients.set(client.id, client);
    this.metrics.clients(this.clients.size);
    ws.on('pong', () => {
      client.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(client, data, isBinary));
    ws.on('close', () => this.forget(client));
    // 'close' follows every error; the error itself (a bad frame, a reset) is the peer's, not ours.
    ws.on('error', () => undefined);
    ws.send(welcomeMessage(this.heartbeatMs, this.tickMs));
  }

  private forget(client: WsClient): void {
    if (!this.clients.delete(client.id)) return;
    if (client.expiry !== undefined) clearTimeout(client.expiry);
    client.endSession?.();
    this.subscriptions.removeClient(client.id);
    this.metrics.clients(this.clients.size);
  }

  // ---- client messages ----

  private onMessage(client: WsClient, data: RawData, isBinary: boolean): void {
    try {
      const request = isBinary
        ? ({ type: 'invalid', detail: 'send JSON text messages' } as const)
        : parseClientMessage(rawText(data));
      switch (request.type) {
        case 'invalid':
          this.metrics.invalidRequest();
          client.ws.send(errorMessage(request.detail));
          return;
        case 'subscribe':
          if (request.devices === '*') {
            this.subscriptions.removeClient(client.id);
            client.all = true;
            client.ws.send(subscribedMessage('*', 0));
            return;
          }
          {
            const { refused } = this.subscriptions.subscribe(client.id, request.devices);
            if (refused > 0) this.metrics.invalidRequest();
            client.all = false;
            client.ws.send(subscribedMessage([...this.subscriptions.devicesOf(client.id)], refused));
          }
          return;
        case 'unsubscribe':
          this.subscriptions.unsubscribe(client.id, request.devices);
          if (!client.all) client.ws.send(subscribedMessage([...this.subscriptions.devicesOf(client.id)], 0));
          return;
      }
    } catch (error) {
      this.report(error);
    }
  }

  // ---- intake from the pipeline: O(1) per reading, never throws ----

  private committed(readings: readonly VerifiedReading[], committedAt: number): void {
    if (this.closed || this.clients.size === 0) return;
    const wantDevices = this.subscriptions.watchedDevices > 0;
    try {
      for (const reading of readings) {
        this.buffer.addOverview(reading, committedAt);
        if (wantDevices && this.subscriptions.isWatched(reading.device)) {
          this.buffer.addDeviceReading(reading, committedAt);
        }
      }
    } catch (error) {
      this.report(error);
    }
  }

  private rejected(_letters: readonly DeadLetter[]): void {
    // Committed readings only: refusals are on the Socket.IO `rejects` feed and in the dead-letter API.
  }

  // ---- the tick ----

  private tick(): void {
    if (!this.buffer.hasData) return;
    try {
      this.fanOut();
    } catch (error) {
      this.report(error);
    } finally {
      this.buffer.reset();
    }
  }

  private fanOut(): void {
    const overview = this.buffer.overviewReadings();
    const overviewDropped = this.buffer.overviewDropped;
    let overviewInner: string | undefined;
    let sharedOverview: string | undefined;
    const deviceInner = new Map<string, string>();
    let dropped = 0;
    let sent = 0;

    for (const client of this.clients.values()) {
      const ws = client.ws;
      if (ws.readyState !== WebSocket.OPEN) continue;
      const devices = client.all ? undefined : this.subscriptions.devicesOf(client.id);
      // What this tick holds for the client, and what the caps already cut from it.
      let items = 0;
      let capDropped = 0;
      if (devices === undefined) {
        items = overview.length;
        capDropped = overviewDropped;
      } else {
        for (const device of devices) {
          const batch = this.buffer.deviceBatch(device);
          if (batch === undefined) continue;
          items += batch.readings.length;
          capDropped += batch.dropped;
        }
      }
      if (items === 0 && capDropped === 0) continue;
      if (ws.bufferedAmount > this.maxBufferedBytes) {
        client.missed += items + capDropped;
        dropped += items + capDropped;
        continue;
      }
      dropped += capDropped;
      const told = capDropped + client.missed;
      client.missed = 0;
      let message: string;
      if (devices === undefined) {
        overviewInner ??= innerJson(overview);
        if (told === overviewDropped) message = sharedOverview ??= readingsMessage(overviewInner, overviewDropped);
        else message = readingsMessage(overviewInner, told);
      } else {
        const parts: string[] = [];
        for (const device of devices) {
          const batch = this.buffer.deviceBatch(device);
          if (batch === undefined || batch.readings.length === 0) continue;
          let inner = deviceInner.get(device);
          if (inner === undefined) {
            inner = innerJson(batch.readings);
            deviceInner.set(device, inner);
          }
          parts.push(inner);
        }
        message = readingsMessage(parts.join(','), told);
      }
      ws.send(message);
      sent += 1;
    }
    if (sent > 0) this.metrics.emitted(sent);
    if (dropped > 0) this.metrics.dropped('ws', dropped);
  }

  // ---- heartbeat ----

  private heartbeat(): void {
    for (const client of [...this.clients.values()]) {
      if (!client.alive) {
        this.metrics.deadPeer();
        client.ws.terminate();
        this.forget(client);
        continue;
      }
      client.alive = false;
      try {
        client.ws.ping();
      } catch {
        // Not open any more: its 'close' forgets it.
      }
    }
  }

  private report(error: unknown): void {
    try {
      this.options.onError?.(error);
    } catch {
      // The error callback failing must not take the fan-out down with it.
    }
  }
}

/** The credential: `Authorization: Bearer <token>` (scripts, servers) or `?token=` (browsers cannot set headers). */
function credentialOf(request: IncomingMessage, url: URL): string | undefined {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
  const token = match?.[1] ?? url.searchParams.get('token') ?? undefined;
  return token === undefined || token === '' || token.length > 8192 ? undefined : token;
}

function refuseUpgrade(socket: Duplex, status: number, text: string, extraHeaders = ''): void {
  if (socket.destroyed) return;
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n${extraHeaders}\r\n`);
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
