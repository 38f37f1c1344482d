/**
 * One device connection speaking the native sealed-frame protocol: batches readings into frames
 * (flushing when a frame is full or after `lingerMs`), seals each frame with a fresh IV, keeps every
 * reading in a bounded outbox until the hub acknowledges it, re-seals and resends after reconnects and
 * retryable refusals, sends heartbeats, and reconnects with jittered backoff. The same rules hold over
 * every transport (frame-link.ts): TCP to the hub's native port, or an MQTT broker.
 */
import { EventEmitter } from 'node:events';
import {
  CipherSuite,
  deriveDeviceKey,
  encodePing,
  FrameType,
  HARD_MAX_FRAME_BYTES,
  ProtocolError,
  REASONS,
  sealReadings,
  type CipherSuiteNumber,
  type DeviceKey,
  type Frame,
  type Reading,
  type ReasonCode,
} from '@sealstream/protocol';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { FrameLink, FrameTransport } from './frame-link.js';
import { openMqttLink } from './mqtt-link.js';
import { Outbox, type Entry } from './outbox.js';
import { openTcpLink } from './tcp-link.js';

export interface NativeClientOptions {
  /** The hub's native TCP port, unless `transport` says otherwise. */
  readonly host?: string;
  readonly port?: number;
  /** How frames reach the hub; default TCP to host:port. */
  readonly transport?: FrameTransport;
  readonly keyId: string;
  /** The device secret: 32 bytes. */
  readonly secret: Uint8Array;
  readonly suite?: CipherSuiteNumber;
  readonly maxReadingsPerFrame?: number;
  /** How long a partly filled frame waits for more readings. */
  readonly lingerMs?: number;
  readonly maxOutboxReadings?: number;
  readonly maxInFlightFrames?: number;
  readonly heartbeatMs?: number;
  readonly reconnect?: BackoffOptions;
  readonly connectTimeoutMs?: number;
  /** Delay before resending a frame the hub refused with a retryable reason. */
  readonly retryDelayMs?: number;
  /** The hub's frame limit; a batch that would seal larger is split. */
  readonly maxFrameBytes?: number;
  readonly onEvent?: (event: ClientEvent) => void;
}

export type ClientEvent =
  | { readonly type: 'connected' }
  | { readonly type: 'disconnected'; readonly reason: string; readonly requeued: number }
  | { readonly type: 'connect-failed'; readonly reason: string; readonly retryInMs: number }
  | {
      readonly type: 'refused';
      readonly reason: ReasonCode | undefined;
      readonly code: number;
      readonly readings: number;
      readonly retrying: boolean;
      readonly message: string;
    }
  | { readonly type: 'closed-by-hub'; readonly code: number };

export interface NativeClientStats {
  readonly queued: number;
  readonly inFlight: number;
  readonly sentFrames: number;
  readonly sentReadings: number;
  readonly acked: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly resent: number;
  readonly reconnects: number;
  readonly connected: boolean;
}

interface ClientEvents {
  ack: [{ frameId: number; accepted: number; duplicates: number; rejected: number }];
}

export class NativeClient extends EventEmitter<ClientEvents> {
  private readonly key: DeviceKey;
  private readonly outbox: Outbox;
  private readonly backoff: Backoff;
  private socket: FrameLink | undefined;
  private connected = false;
  private closing = false;
  private writeBlocked = false;
  private nextFrameId = 1;
  private lingerTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private retryHoldUntil = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private lastReceivedAt = 0;
  private flushWaiters: Array<{ upTo: number; resolve: () => void }> = [];
  private counters = { sentFrames: 0, sentReadings: 0, acked: 0, duplicates: 0, rejected: 0, resent: 0, reconnects: 0 };
  private readonly settings: Required<Omit<NativeClientOptions, 'onEvent' | 'reconnect' | 'host' | 'port'>>;

  constructor(private readonly options: NativeClientOptions) {
    super();
    this.key = deriveDeviceKey(options.secret);
    const transport: FrameTransport | undefined =
      options.transport ??
      (options.host === undefined || options.port === undefined
        ? undefined
        : { kind: 'tcp', host: options.host, port: options.port });
    if (transport === undefined) throw new Error('NativeClient needs host and port, or a transport');
    this.settings = {
      transport,
      keyId: options.keyId,
      secret: options.secret,
      suite: options.suite ?? CipherSuite.Aes256Gcm,
      maxReadingsPerFrame: options.maxReadingsPerFrame ?? 500,
      lingerMs: options.lingerMs ?? 5,
      maxOutboxReadings: options.maxOutboxReadings ?? 100_000,
      maxInFlightFrames: options.maxInFlightFrames ?? 64,
      heartbeatMs: options.heartbeatMs ?? 5000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      retryDelayMs: options.retryDelayMs ?? 200,
      maxFrameBytes: options.maxFrameBytes ?? 1_048_576,
    };
    this.outbox = new Outbox(this.settings.maxOutboxReadings);
    this.backoff = new Backoff(options.reconnect);
    this.connect();
  }

  /** Resolves once the reading is in the outbox; waits while the outbox is full (backpressure). */
  async send(reading: Reading): Promise<void> {
    if (this.closing) throw new Error('client is closing');
    for (let wait = this.outbox.reserve(); wait !== undefined; wait = this.outbox.reserve()) {
      await wait;
      // close()/destroy() wake blocked producers so they fail instead of waiting for room that never comes.
      if (this.closing) throw new Error('client is closing');
    }
    this.outbox.push(reading);
    this.schedulePump();
  }

  /** Resolves when every reading accepted before this call is acknowledged (or refused for good). */
  flush(): Promise<void> {
    const upTo = this.outbox.acceptedUpTo;
    if (this.outbox.lowestUnsettled() >= upTo) return Promise.resolve();
    // Waiting before pumping: the pump may settle everything at once (a reading refused locally).
    const flushed = new Promise<void>((resolve) => this.flushWaiters.push({ upTo, resolve }));
    clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.pump(true);
    return flushed;
  }

  /** Waits up to `timeoutMs` for acknowledgements, sends CLOSE and ends the connection. */
  async close(timeoutMs = 5000): Promise<void> {
    const flushed = this.flush();
    await Promise.race([flushed, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
    this.closing = true;
    this.stopTimers();
    this.outbox.releaseWaiters();
    if (this.socket !== undefined && this.connected) {
      await this.socket.end();
    } else {
      this.socket?.destroy();
    }
  }

  /**
   * Drops the connection at once; unacknowledged readings are lost with the client. Producers blocked in
   * send() fail; pending flush() promises never settle.
   */
  destroy(): void {
    this.closing = true;
    this.stopTimers();
    this.outbox.releaseWaiters();
    this.socket?.destroy();
  }

  stats(): NativeClientStats {
    return {
      queued: this.outbox.waitingCount,
      inFlight: this.outbox.inFlightCount,
      ...this.counters,
      connected: this.connected,
    };
  }

  private connect(): void {
    if (this.closing) return;
    const transport = this.settings.transport;
    let wasConnected = false;
    const handlers = {
      onOpen: () => {
        wasConnected = true;
        this.connected = true;
        this.writeBlocked = false;
        this.lastReceivedAt = Date.now();
        this.backoff.reset();
        this.startHeartbeat();
        this.options.onEvent?.({ type: 'connected' });
        this.pump(false);
      },
      onFrame: (frame: Frame) => {
        this.lastReceivedAt = Date.now();
        this.onFrame(frame);
      },
      onDrain: () => {
        this.writeBlocked = false;
        this.pump(false);
      },
      onClose: (reason: string) => {
        this.connected = false;
        this.stopHeartbeat();
        if (this.socket === link) this.socket = undefined;
        const requeued = this.outbox.returnAll();
        this.counters.resent += requeued;
        if (wasConnected) this.options.onEvent?.({ type: 'disconnected', reason, requeued });
        if (this.closing) return;
        this.counters.reconnects += 1;
        const retryInMs = this.backoff.next();
        if (!wasConnected) this.options.onEvent?.({ type: 'connect-failed', reason, retryInMs });
        this.reconnectTimer = setTimeout(() => this.connect(), retryInMs);
      },
    };
    const link: FrameLink =
      transport.kind === 'tcp'
        ? openTcpLink(
            {
              host: transport.host,
              port: transport.port,
              connectTimeoutMs: transport.connectTimeoutMs ?? this.settings.connectTimeoutMs,
            },
            handlers,
          )
        : openMqttLink(
            { ...transport, connectTimeoutMs: transport.connectTimeoutMs ?? this.settings.connectTimeoutMs },
            this.settings.keyId,
            handlers,
          );
    this.socket = link;
  }

  private onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.Ack: {
        const entries = this.outbox.settle(frame.frameId);
        if (entries === undefined) return;
        this.counters.acked += frame.accepted + frame.duplicates;
        this.counters.duplicates += frame.duplicates;
        this.counters.rejected += frame.rejected;
        this.emit('ack', {
          frameId: frame.frameId,
          accepted: frame.accepted,
          duplicates: frame.duplicates,
          rejected: frame.rejected,
        });
        this.afterSettle();
        return;
      }
      case FrameType.Error: {
        const retrying = frame.reason !== undefined && REASONS[frame.reason].retryable;
        let readings = 0;
        // frameId 0 is about the stream itself: the hub closes the connection next, and 'close' requeues.
        if (frame.frameId !== 0) {
          if (retrying) {
            readings = this.outbox.returnFrame(frame.frameId);
            this.counters.resent += readings;
            this.retryHoldUntil = Date.now() + this.settings.retryDelayMs;
            this.armRetry();
          } else {
            readings = this.outbox.settle(frame.frameId)?.length ?? 0;
            this.counters.rejected += readings;
            this.afterSettle();
          }
        }
        this.options.onEvent?.({
          type: 'refused',
          reason: frame.reason,
          code: frame.code,
          readings,
          retrying,
          message: frame.message,
        });
        return;
      }
      case FrameType.Close:
        this.options.onEvent?.({ type: 'closed-by-hub', code: frame.code });
        void this.socket?.end();
        return;
      default:
        // PONG (and anything else) only proves the hub is alive, which lastReceivedAt already recorded.
        return;
    }
  }

  private afterSettle(): void {
    this.resolveFlushWaiters();
    this.pump(this.flushWaiters.length > 0);
  }

  private resolveFlushWaiters(): void {
    if (this.flushWaiters.length === 0) return;
    const lowest = this.outbox.lowestUnsettled();
    this.flushWaiters = this.flushWaiters.filter((waiter) => {
      if (lowest < waiter.upTo) return true;
      waiter.resolve();
      return false;
    });
  }

  /**
   * One reading that alone seals larger than the hub's frame limit can never be delivered: the hub
   * refuses the frame as `frame_too_large` and closes the connection, and resending it after every
   * reconnect once looped for ever, holding up every reading behind it. It is refused here instead,
   * as the hub would, and never sent.
   */
  private refuseOversized(frameId: number, entries: Entry[], bodyBytes: number): void {
    this.outbox.markInFlight(frameId, entries);
    this.outbox.settle(frameId);
    this.counters.rejected += entries.length;
    this.options.onEvent?.({
      type: 'refused',
      reason: 'frame_too_large',
      code: REASONS.frame_too_large.code,
      readings: entries.length,
      retrying: false,
      message: `a reading seals to ${bodyBytes > HARD_MAX_FRAME_BYTES ? 'more than 16 MiB' : `${bodyBytes} bytes`}, over the frame limit of ${this.settings.maxFrameBytes}; not sent`,
    });
    // Called from pump()'s loop: wake flush() callers without pumping again from inside it.
    this.resolveFlushWaiters();
  }

  private schedulePump(): void {
    if (this.outbox.waitingCount >= this.settings.maxReadingsPerFrame) this.pump(false);
    else this.armLinger();
  }

  /** A partly filled frame goes out after lingerMs unless it fills up first. */
  private armLinger(): void {
    if (this.lingerTimer !== undefined) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump(true);
    }, this.settings.lingerMs);
  }

  /** After a retryable refusal the hub asked for a pause: one timer resumes sending when it is over. */
  private armRetry(): void {
    if (this.retryTimer !== undefined) return;
    const wait = Math.max(1, this.retryHoldUntil - Date.now());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump(true);
    }, wait);
  }

  /** Seals and writes frames while the connection, the in-flight bound and the socket allow. */
  private pump(sendPartial: boolean): void {
    if (!this.connected || this.socket === undefined) return;
    if (Date.now() < this.retryHoldUntil) {
      this.armRetry();
      return;
    }
    while (!this.writeBlocked && this.outbox.inFlightFrames < this.settings.maxInFlightFrames) {
      const waiting = this.outbox.waitingCount;
      if (waiting === 0 || (!sendPartial && waiting < this.settings.maxReadingsPerFrame)) break;
      this.sendFrame(this.outbox.take(this.settings.maxReadingsPerFrame));
    }
    // Blocked by the in-flight bound or the socket: an ACK or 'drain' resumes; the timer covers a partial frame.
    if (this.outbox.waitingCount > 0) this.armLinger();
  }

  private sendFrame(entries: Entry[]): void {
    const socket = this.socket;
    if (socket === undefined) {
      this.outbox.untake(entries);
      return;
    }
    const frameId = this.nextFrameId;
    this.nextFrameId = this.nextFrameId >= 0xffffffff ? 1 : this.nextFrameId + 1;
    let bytes: Buffer;
    try {
      bytes = sealReadings(
        entries.map((entry) => entry.reading),
        this.key,
        { suite: this.settings.suite, keyId: this.settings.keyId, frameId },
      );
    } catch (error) {
      // Over the protocol's hard ceiling (16 MiB) sealing refuses outright: split, or refuse one reading.
      if (!(error instanceof ProtocolError) || error.reason !== 'frame_too_large') throw error;
      if (entries.length > 1) {
        const half = Math.ceil(entries.length / 2);
        this.sendFrame(entries.slice(0, half));
        this.sendFrame(entries.slice(half));
      } else {
        this.refuseOversized(frameId, entries, HARD_MAX_FRAME_BYTES + 1);
      }
      return;
    }
    if (bytes.length - 4 > this.settings.maxFrameBytes && entries.length > 1) {
      const half = Math.ceil(entries.length / 2);
      this.sendFrame(entries.slice(0, half));
      this.sendFrame(entries.slice(half));
      return;
    }
    if (bytes.length - 4 > this.settings.maxFrameBytes) {
      this.refuseOversized(frameId, entries, bytes.length - 4);
      return;
    }
    // On a link without heartbeats an idle spell is silence by design: the wait for an answer starts now.
    if (!socket.heartbeats && this.outbox.inFlightFrames === 0) this.lastReceivedAt = Date.now();
    this.outbox.markInFlight(frameId, entries);
    this.counters.sentFrames += 1;
    this.counters.sentReadings += entries.length;
    if (!socket.write(bytes)) this.writeBlocked = true;
  }

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const interval = this.settings.heartbeatMs;
    const link = this.socket;
    this.heartbeatTimer = setInterval(() => {
      const silentFor = Date.now() - this.lastReceivedAt;
      // A link without heartbeats (MQTT) is silent while idle: only unanswered frames make silence suspect.
      const expectingWord = link?.heartbeats === true || this.outbox.inFlightFrames > 0;
      if (silentFor > interval * 3 && expectingWord) {
        // Three intervals without a byte from the hub: the connection is dead even if TCP has not noticed.
        link?.destroy('heartbeat timeout');
        return;
      }
      if (silentFor >= interval && link?.heartbeats === true) link.write(encodePing(BigInt(Date.now())));
    }, interval);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private stopTimers(): void {
    this.stopHeartbeat();
    clearTimeout(this.lingerTimer);
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.retryTimer);
    this.lingerTimer = undefined;
    this.retryTimer = undefined;
  }
}
