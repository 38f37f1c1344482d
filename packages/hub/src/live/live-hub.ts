/**
 * The live fan-out: the pipeline's LiveSink, driving a Socket.IO server the app created.
 * Committed readings and rejects are gathered into a TickBuffer and sent once per tick as coalesced
 * batches to v2 dashboards (overview room, device rooms, rejects, stats), and as the seed dashboard's
 * `message:new` / `stats:update` to legacy clients.
 * Slow clients: a client whose transport still holds `maxBufferedPackets` or more unsent packets when
 * a tick starts is skipped for that tick, and what it missed is counted as dropped. Once it keeps up
 * again it is sent the latest reading of every device that changed meanwhile, never a backlog. So the
 * memory a client can pin is bounded by maxBufferedPackets plus one tick's packets.
 * When data is sent: ticks run every `tickMs` (the overview, stats, catch-ups, and a backstop). The
 * overview — the latest reading of every device, for a fleet view — is sent once per tick: at 20K
 * readings/s sending it with every commit was most of the fan-out's cost (nearly every reading encoded
 * for every viewer), which made the sends of watched devices wait for their share of the loop. The
 * readings of watched devices, rejects and legacy messages do not wait for the tick: they are sent on the
 * leading edge — at once (after the current I/O callbacks, so one loop turn's commits still coalesce)
 * while the fan-out is within its share of the event loop (LIVE_SEND_BUDGET, kept by send-budget.ts),
 * else as soon as it is back within it, at most `tickMs` later. Many clients make sends expensive and
 * they space out towards `tickMs`, so coalescing and the CPU bound are what they were with a fixed tick.
 */
import type { Server, Socket } from 'socket.io';
import {
  OVERVIEW_ROOM,
  deviceRoom,
  type ClientToServerEvents,
  type LegacyStatsUpdate,
  type LiveStats,
  type ServerToClientEvents,
} from '@sealstream/protocol';
import type { DeadLetter, LiveSink, VerifiedReading } from '../pipeline/ports.js';
import { credentialMiddleware, tokenMiddleware, type CredentialVerdict } from './handshake-auth.js';
import { LatestReadings } from './latest-readings.js';
import type { LiveSessions } from './live-sessions.js';
import { noopLiveMetrics, type LiveDropKind, type LiveMetrics } from './live-metrics.js';
import { SubscriptionRegistry, parseDeviceRequest } from './subscriptions.js';
import { SendBudget } from './send-budget.js';
import { TickBuffer } from './tick-buffer.js';

export type LiveServer = Server<ClientToServerEvents, ServerToClientEvents>;
type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** Share of the event loop the live data sends may take, measured by what each send cost. */
export const LIVE_SEND_BUDGET = 0.1;
/** Send time the fan-out may spend ahead of its share before sends wait (a burst allowance), ms. */
export const SEND_BURST_MS = 2;
/** A send's cost counts at most this many times the recent average (+1 ms): see send-budget.ts. */
export const SEND_OUTLIER_FACTOR = 2;

export interface LiveHubOptions {
  readonly io: LiveServer;
  /** Fan-out period, and the longest committed data waits to be sent (see the header). Default 50 ms. */
  readonly tickMs?: number;
  /** Readings per client per room per tick (overview devices; readings of one device). Default 500. */
  readonly maxReadingsPerTick?: number;
  /** Rejects per client per tick. Default 200. */
  readonly maxRejectsPerTick?: number;
  /** Legacy `message:new` events per client per tick. Default 200. */
  readonly maxLegacyMessagesPerTick?: number;
  /** A client with this many unsent packets or more is skipped for the tick. Default 100; 0 skips everyone. */
  readonly maxBufferedPackets?: number;
  /** Minimum spacing of `stats` (v2) and `stats:update` (legacy) to one client. Default 250 ms. */
  readonly statsIntervalMs?: number;
  /** Devices whose latest reading is kept for clients that catch up. Default 10 000. */
  readonly maxTrackedDevices?: number;
  readonly getStats: () => LiveStats;
  /** When set, a connection's handshake `auth.token` must equal it. */
  readonly authToken?: string;
  /**
   * When set, a connection's handshake `auth.token` must satisfy it (e.g. a valid API token of an enabled
   * account); the connection is closed when the verdict's expiry passes. Wins over authToken.
   */
  readonly authorize?: (token: string) => CredentialVerdict | Promise<CredentialVerdict>;
  /** Where connections admitted by `authorize` for an account are registered, to be ended with it. */
  readonly sessions?: LiveSessions;
  readonly metrics?: LiveMetrics;
  readonly now?: () => number;
  /** Told about unexpected failures inside the fan-out (which never propagate). */
  readonly onError?: (error: unknown) => void;
}

export interface LiveHub {
  readonly sink: LiveSink;
  /** Stops the ticks and forgets every client; the app still closes the Socket.IO server itself. */
  close(): void;
  clientCount(): number;
  /** Items waiting in the current tick's buffers, for diagnostics and tests. */
  pendingItems(): number;
}

interface LiveClient {
  readonly socket: LiveSocket;
  /** Last tick in which the client was writable: what it has seen of the overview. */
  lastWritableTick: number;
  lastStatsAt: number;
  /** The legacy stats last sent to this client, as a comparison key. */
  lastLegacyStats: string;
  readonly detach: () => void;
}

export function createLiveHub(options: LiveHubOptions): LiveHub {
  const fanOut = new LiveFanOut(options);
  return {
    sink: fanOut.sink,
    close: () => fanOut.close(),
    clientCount: () => fanOut.clientCount(),
    pendingItems: () => fanOut.pendingItems(),
  };
}

class LiveFanOut {
  readonly sink: LiveSink;
  private readonly io: LiveServer;
  private readonly getStats: () => LiveStats;
  private readonly metrics: LiveMetrics;
  private readonly now: () => number;
  private readonly onError: ((error: unknown) => void) | undefined;
  private readonly maxReadingsPerTick: number;
  private readonly maxBufferedPackets: number;
  private readonly statsIntervalMs: number;
  private readonly v2Clients = new Map<string, LiveClient>();
  private readonly legacyClients = new Map<string, LiveClient>();
  private readonly subscriptions = new SubscriptionRegistry();
  private readonly buffer: TickBuffer;
  private readonly latest: LatestReadings;
  private readonly timer: NodeJS.Timeout;
  private readonly onConnection = (socket: LiveSocket): void => this.attach(socket);
  private tickNumber = 0;
  /** Commit time of the oldest leading-edge data not sent yet (undefined: none), for the send-delay metric. */
  private pendingSince: number | undefined;
  private closed = false;
  private readonly sendBudget: SendBudget;
  private sendScheduled = false;

  constructor(options: LiveHubOptions) {
    const tickMs = positiveInteger('tickMs', options.tickMs ?? 50);
    this.sendBudget = new SendBudget({
      share: LIVE_SEND_BUDGET,
      burstMs: SEND_BURST_MS,
      maxWaitMs: tickMs,
      outlierFactor: SEND_OUTLIER_FACTOR,
    });
    this.maxReadingsPerTick = positiveInteger('maxReadingsPerTick', options.maxReadingsPerTick ?? 500);
    this.maxBufferedPackets = nonNegativeInteger('maxBufferedPackets', options.maxBufferedPackets ?? 100);
    this.statsIntervalMs = nonNegativeInteger('statsIntervalMs', options.statsIntervalMs ?? 250);
    this.buffer = new TickBuffer({
      readingsPerRoom: this.maxReadingsPerTick,
      rejects: positiveInteger('maxRejectsPerTick', options.maxRejectsPerTick ?? 200),
      legacyMessages: positiveInteger('maxLegacyMessagesPerTick', options.maxLegacyMessagesPerTick ?? 200),
    });
    this.latest = new LatestReadings(positiveInteger('maxTrackedDevices', options.maxTrackedDevices ?? 10_000));
    this.io = options.io;
    this.getStats = options.getStats;
    this.metrics = options.metrics ?? noopLiveMetrics;
    this.now = options.now ?? Date.now;
    this.onError = options.onError;
    this.sink = {
      committed: (readings, committedAt) => this.committed(readings, committedAt),
      rejected: (deadLetters) => this.rejected(deadLetters),
    };

    if (options.authorize !== undefined) {
      this.io.use(credentialMiddleware(options.authorize, Date.now, options.sessions));
    } else if (options.authToken !== undefined) this.io.use(tokenMiddleware(options.authToken));
    this.io.on('connection', this.onConnection);
    this.timer = setInterval(() => this.tick(true), tickMs);
    this.timer.unref();
  }

  clientCount(): number {
    return this.v2Clients.size + this.legacyClients.size;
  }

  pendingItems(): number {
    return this.buffer.size;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.io.off('connection', this.onConnection);
    for (const client of [...this.v2Clients.values(), ...this.legacyClients.values()]) client.detach();
    this.v2Clients.clear();
    this.legacyClients.clear();
    this.subscriptions.clear();
    this.buffer.reset();
    this.latest.clear();
    this.metrics.clients(0);
  }

  // ---- intake from the pipeline: O(1) per item, never throws ----

  private committed(readings: readonly VerifiedReading[], committedAt: number): void {
    if (this.closed) return;
    const wantOverview = this.v2Clients.size > 0;
    const wantLegacy = this.legacyClients.size > 0;
    if (!wantOverview && !wantLegacy) return;
    const wantDevices = this.subscriptions.watchedDevices > 0;
    try {
      for (const reading of readings) {
        if (wantOverview) this.buffer.addOverview(reading, committedAt);
        if (wantDevices && this.subscriptions.isWatched(reading.device)) {
          this.buffer.addDeviceReading(reading, committedAt);
        }
        if (wantLegacy && reading.source === 'legacy') this.buffer.addLegacy(reading);
      }
    } catch (error) {
      this.report(error);
    }
    // Only what is not overview goes out on the leading edge; the overview waits for the tick.
    if (this.buffer.hasEdgeData) {
      this.pendingSince ??= committedAt;
      this.leadingEdge();
    }
  }

  private rejected(deadLetters: readonly DeadLetter[]): void {
    if (this.closed || this.v2Clients.size === 0) return;
    try {
      for (const letter of deadLetters) this.buffer.addReject(letter);
    } catch (error) {
      this.report(error);
    }
    if (this.buffer.hasEdgeData) this.leadingEdge();
  }

  /** Schedules the send of new data: at once while the sends are within their budget, else when they will be. */
  private leadingEdge(): void {
    if (this.sendScheduled || this.closed) return;
    this.sendScheduled = true;
    const send = (): void => {
      this.sendScheduled = false;
      if (!this.closed) this.tick(false);
    };
    const wait = this.sendBudget.waitMs(performance.now());
    if (wait <= 0) setImmediate(send);
    else setTimeout(send, wait).unref();
  }

  // ---- clients ----

  private attach(socket: LiveSocket): void {
    const auth: unknown = socket.handshake.auth;
    const isV2 = typeof auth === 'object' && auth !== null && (auth as { protocol?: unknown }).protocol === 2;
    const onSubscribe = (request: unknown): void => this.subscribe(socket, request);
    const onUnsubscribe = (request: unknown): void => this.unsubscribe(socket, request);
    const onDisconnect = (): void => this.forget(socket.id);
    const client: LiveClient = {
      socket,
      // -1: the first tick sends a new client the latest state of every tracked device.
      lastWritableTick: -1,
      lastStatsAt: Number.NEGATIVE_INFINITY,
      lastLegacyStats: '',
      detach: () => {
        socket.off('subscribe', onSubscribe);
        socket.off('unsubscribe', onUnsubscribe);
        socket.off('disconnect', onDisconnect);
      },
    };
    if (isV2) {
      this.v2Clients.set(socket.id, client);
      this.join(socket, OVERVIEW_ROOM);
      socket.on('subscribe', onSubscribe);
      socket.on('unsubscribe', onUnsubscribe);
    } else {
      // No `protocol` in the handshake: the seed dashboard, which only understands the legacy events.
      this.legacyClients.set(socket.id, client);
    }
    socket.on('disconnect', onDisconnect);
    this.metrics.clients(this.clientCount());
  }

  private forget(socketId: string): void {
    this.v2Clients.get(socketId)?.detach();
    this.legacyClients.get(socketId)?.detach();
    this.v2Clients.delete(socketId);
    this.legacyClients.delete(socketId);
    this.subscriptions.removeClient(socketId);
    // Nobody left to catch up: do not keep device state alive for no one.
    if (this.v2Clients.size === 0) this.latest.clear();
    this.metrics.clients(this.clientCount());
  }

  private subscribe(socket: LiveSocket, request: unknown): void {
    try {
      const devices = parseDeviceRequest(request);
      if (devices === null) {
        this.metrics.invalidRequest();
        return;
      }
      const { added, refused } = this.subscriptions.subscribe(socket.id, devices);
      if (refused > 0) this.metrics.invalidRequest();
      for (const device of added) this.join(socket, deviceRoom(device));
    } catch (error) {
      this.report(error);
    }
  }

  private unsubscribe(socket: LiveSocket, request: unknown): void {
    try {
      const devices = parseDeviceRequest(request);
      if (devices === null) {
        this.metrics.invalidRequest();
        return;
      }
      for (const device of this.subscriptions.unsubscribe(socket.id, devices)) {
        this.settle(socket.leave(deviceRoom(device)));
      }
    } catch (error) {
      this.report(error);
    }
  }

  private join(socket: LiveSocket, room: string): void {
    this.settle(socket.join(room));
  }

  /** Adapters other than the in-memory one answer joins with a promise; a failure is reported, not thrown. */
  private settle(result: Promise<void> | void): void {
    if (result instanceof Promise) result.catch((error: unknown) => this.report(error));
  }

  // ---- the tick ----

  /** One send: `withOverview` on the timer's ticks (everything), else a leading-edge send (all but the overview). */
  private tick(withOverview: boolean): void {
    const pendingSince = this.pendingSince;
    this.pendingSince = undefined;
    if (this.v2Clients.size === 0 && this.legacyClients.size === 0) {
      this.buffer.reset();
      return;
    }
    const hasData = withOverview ? this.buffer.hasData : this.buffer.hasEdgeData;
    const started = performance.now();
    if (hasData && pendingSince !== undefined) this.metrics.sendDelay?.(Math.max(0, this.now() - pendingSince) / 1000);
    try {
      this.tickNumber += 1;
      let stats: LiveStats | undefined;
      const currentStats = (): LiveStats => (stats ??= this.getStats());
      if (this.v2Clients.size > 0) this.fanOutV2(currentStats, withOverview);
      if (this.legacyClients.size > 0) this.fanOutLegacy(currentStats);
    } catch (error) {
      this.report(error);
    } finally {
      if (withOverview) this.buffer.reset();
      else this.buffer.resetEdge();
    }
    if (hasData) this.sendBudget.spent(started, performance.now());
  }

  private fanOutV2(currentStats: () => LiveStats, withOverview: boolean): void {
    const tick = this.tickNumber;
    const now = this.now();
    const overview = withOverview ? this.buffer.overviewReadings() : [];
    const overviewDropped = withOverview ? this.buffer.overviewDropped : 0;
    if (overview.length > 0) this.latest.record(overview, tick);
    const rejects = this.buffer.rejects;
    const rejectsDropped = this.buffer.rejectsDropped;
    const hasRejects = rejects.length > 0 || rejectsDropped > 0;

    const overviewIds: string[] = [];
    const rejectIds: string[] = [];
    const statsIds: string[] = [];
    const deviceIds = new Map<string, string[]>();
    let droppedReadings = 0;
    let droppedRejects = 0;

    for (const client of this.v2Clients.values()) {
      const id = client.socket.id;
      const watched = this.subscriptions.devicesOf(id);
      if (!this.canWrite(client)) {
        droppedReadings += overview.length + overviewDropped;
        for (const device of watched) {
          const batch = this.buffer.deviceBatch(device);
          if (batch !== undefined) droppedReadings += batch.readings.length + batch.dropped;
        }
        droppedRejects += rejects.length + rejectsDropped;
        continue;
      }

      if (client.lastWritableTick === tick - 1) {
        if (overview.length > 0 || overviewDropped > 0) {
          overviewIds.push(id);
          droppedReadings += overviewDropped;
        }
      } else {
        // It missed ticks (or just connected): the latest state of what changed since, not a backlog.
        const catchUp = this.latest.changedSince(client.lastWritableTick, this.maxReadingsPerTick);
        const dropped = catchUp.dropped + overviewDropped;
        if (catchUp.readings.length > 0 || dropped > 0) {
          client.socket.emit('readings', { room: OVERVIEW_ROOM, readings: catchUp.readings, dropped });
          this.metrics.emitted(1);
          droppedReadings += dropped;
        }
      }
      client.lastWritableTick = tick;

      for (const device of watched) {
        const batch = this.buffer.deviceBatch(device);
        if (batch === undefined) continue;
        const ids = deviceIds.get(device);
        if (ids === undefined) deviceIds.set(device, [id]);
        else ids.push(id);
        droppedReadings += batch.dropped;
      }
      if (hasRejects) {
        rejectIds.push(id);
        droppedRejects += rejectsDropped;
      }
      if (now - client.lastStatsAt >= this.statsIntervalMs) {
        statsIds.push(id);
        client.lastStatsAt = now;
      }
    }

    this.emitTo(overviewIds, 'readings', { room: OVERVIEW_ROOM, readings: overview, dropped: overviewDropped });
    for (const [device, ids] of deviceIds) {
      const batch = this.buffer.deviceBatch(device);
      if (batch === undefined) continue;
      this.emitTo(ids, 'readings', { room: deviceRoom(device), readings: batch.readings, dropped: batch.dropped });
    }
    this.emitTo(rejectIds, 'rejects', { rejects, dropped: rejectsDropped });
    if (statsIds.length > 0) this.emitTo(statsIds, 'stats', currentStats());
    this.countDropped('readings', droppedReadings);
    this.countDropped('rejects', droppedRejects);
  }

  private fanOutLegacy(currentStats: () => LiveStats): void {
    const now = this.now();
    const messages = this.buffer.legacyMessages;
    const capDropped = this.buffer.legacyDropped;
    const { totalReceived, totalValid, totalInvalid, successRate } = currentStats();
    const legacyStats: LegacyStatsUpdate = { totalReceived, totalValid, totalInvalid, successRate };
    const statsKey = `${totalReceived}|${totalValid}|${totalInvalid}|${successRate}`;

    const messageIds: string[] = [];
    const statsIds: string[] = [];
    let dropped = 0;
    for (const client of this.legacyClients.values()) {
      if (!this.canWrite(client)) {
        dropped += messages.length + capDropped;
        continue;
      }
      if (messages.length > 0) messageIds.push(client.socket.id);
      dropped += capDropped;
      // Per client, so a client skipped while the totals moved still gets the newest ones later; spaced
      // like v2 stats (statsIntervalMs): commits arrive many times a second and each moved the totals,
      // which sent the seed's dashboard ~50 stats:update a second. A later tick sends the newest totals.
      if (client.lastLegacyStats !== statsKey && now - client.lastStatsAt >= this.statsIntervalMs) {
        statsIds.push(client.socket.id);
        client.lastLegacyStats = statsKey;
        client.lastStatsAt = now;
      }
    }
    for (const message of messages) this.emitTo(messageIds, 'message:new', message);
    this.emitTo(statsIds, 'stats:update', legacyStats);
    this.countDropped('legacy', dropped);
  }

  private canWrite(client: LiveClient): boolean {
    return client.socket.connected && bufferedPackets(client.socket) < this.maxBufferedPackets;
  }

  /**
   * One encode for many clients: every socket is in the room named by its own id, so a local broadcast
   * to those rooms reaches exactly the chosen clients.
   */
  private emitTo<E extends keyof ServerToClientEvents>(
    socketIds: readonly string[],
    event: E,
    ...args: Parameters<ServerToClientEvents[E]>
  ): void {
    // An empty room list would mean "every client"; nothing chosen means nothing sent.
    if (socketIds.length === 0) return;
    this.io.local.to([...socketIds]).emit(event, ...args);
    this.metrics.emitted(socketIds.length);
  }

  private countDropped(kind: LiveDropKind, count: number): void {
    if (count > 0) this.metrics.dropped(kind, count);
  }

  private report(error: unknown): void {
    try {
      this.onError?.(error);
    } catch {
      // The error callback failing must not take the fan-out down with it.
    }
  }
}

/**
 * Packets queued in the engine.io socket and not yet handed to the transport. engine.io keeps the
 * buffer private, but it is the one place that shows a client falling behind: it grows while the
 * transport is still busy writing earlier packets to a client that does not read.
 */
function bufferedPackets(socket: LiveSocket): number {
  const buffer = (socket.conn as unknown as { writeBuffer?: unknown }).writeBuffer;
  return Array.isArray(buffer) ? buffer.length : 0;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer`);
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer`);
  return value;
}
