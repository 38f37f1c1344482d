/**
 * Native sealed-frame ingest over TCP. Owns one connection's life: decode frames from the byte stream,
 * feed them to the connection's frame session (session/frame-session.ts: the pipeline, answers, the
 * refusal budget) and write its answers, stop reading while the committer is saturated or too many
 * frames are in flight (backpressure), and drop senders that stall mid-frame, go silent, stop reading
 * their acknowledgements, or spend their refusal budget.
 *
 * Returns an unlistened net.Server; the app decides the port.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { encodeClose, FrameDecoder, REASONS, type DecodeItem, type ReasonCode } from '@sealstream/protocol';
import type { Logger } from 'pino';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { PipelineMetrics } from '../../pipeline/ports.js';
import { ConnectionRegistry, type TrackedConnection } from '../connection-registry.js';
import { describePeer } from '../peer.js';
import type { ConnectionGuard, ConnectionGuardMetrics } from '../connection-guard.js';
import { boundListener } from '../listener-bounds.js';
import { ReadGate } from '../read-gate.js';
import { DEFAULT_REFUSAL_BUDGET } from '../refusal-budget.js';
import { encodeAnswer, FrameSession, type SessionAnswer } from '../session/frame-session.js';

export interface NativeIngestOptions {
  readonly pipeline: Pipeline;
  readonly metrics: PipelineMetrics;
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  /** Frames opened but not yet answered, per connection, before the socket is paused. */
  readonly maxInFlightFrames: number;
  /** No bytes at all for this long closes the connection (devices send heartbeats). */
  readonly idleTimeoutMs: number;
  /** Open connections on this listener; a new one beyond it is closed at once and counted. */
  readonly maxConnections: number;
  /** Connections one client address (IPv6: one /64) may hold; default a quarter of maxConnections. */
  readonly maxConnectionsPerAddress?: number;
  readonly guardMetrics?: ConnectionGuardMetrics;
  /** A partial frame not completed within this long closes the connection (slow sender). */
  readonly partialFrameTimeoutMs: number;
  /** Unread acknowledgements buffered above this many bytes close the connection. */
  readonly maxPendingWriteBytes: number;
}

export interface NativeIngest {
  readonly server: Server;
  readonly connections: ConnectionRegistry;
  close(): Promise<void>;
}

export function createNativeIngest(options: NativeIngestOptions): NativeIngest {
  const connections = new ConnectionRegistry('tcp', options.metrics);
  const onDrain = (): void => connections.drain();
  options.pipeline.on('drain', onDrain);
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    // Refused by the guard (its address is over its share): already destroyed.
    if (socket.destroyed) return;
    new NativeConnection(socket, options, connections, guard);
  });
  const guard = boundListener(server, {
    source: 'tcp',
    maxConnections: options.maxConnections,
    ...(options.maxConnectionsPerAddress === undefined
      ? {}
      : { maxConnectionsPerAddress: options.maxConnectionsPerAddress }),
    metrics: options.metrics,
    ...(options.guardMetrics === undefined ? {} : { guardMetrics: options.guardMetrics }),
    logger: options.logger,
  });
  return {
    server,
    connections,
    async close() {
      options.pipeline.off('drain', onDrain);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        void connections.closeAll();
      });
    },
  };
}

class NativeConnection implements TrackedConnection {
  private readonly decoder: FrameDecoder;
  private readonly peer: string;
  private inFlight = 0;
  private readonly gate: ReadGate;
  private readingDone = false;
  private closed = false;
  private closedWaiters: Array<() => void> = [];
  /**
   * CLOSE code sent when ending: 0 for a normal close (the device's CLOSE, its end of stream), else the
   * number of the reason that ended the stream (a fatal framing error, a stall, a spent refusal budget,
   * shutting_down), so a device reading only the CLOSE still learns why (docs/protocol.md, Clean close).
   */
  private closeCode = 0;
  /** True while writes are corked until the end of this turn of the event loop (see write). */
  private corked = false;
  private readonly session: FrameSession;

  constructor(
    readonly socket: Socket,
    private readonly options: NativeIngestOptions,
    private readonly registry: ConnectionRegistry,
    private readonly guard: ConnectionGuard,
  ) {
    this.decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.peer = describePeer(socket);
    this.session = new FrameSession({
      pipeline: options.pipeline,
      logger: options.logger,
      source: 'tcp',
      peer: this.peer,
      control: 'stream',
      reserveFrameIdZero: true,
      refusalBudget: DEFAULT_REFUSAL_BUDGET,
      transportName: 'over TCP',
    });
    this.gate = new ReadGate(
      socket,
      registry,
      () => options.pipeline.saturated || this.inFlight >= options.maxInFlightFrames,
    );
    registry.add(this);
    socket.setTimeout(options.idleTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('timeout', () => this.onIdle());
    socket.on('error', (error) => options.logger.debug({ peer: this.peer, err: error.message }, 'tcp socket error'));
    socket.on('close', () => this.onClose());
  }

  onDrain(): void {
    this.gate.releaseIfPossible(this.readingDone);
  }

  isStalled(now: number): boolean {
    return this.gate.stalledLongerThan(now, this.options.partialFrameTimeoutMs);
  }

  onStalled(): void {
    this.fail(
      'idle_timeout',
      `partial frame not completed within ${this.options.partialFrameTimeoutMs} ms`,
      Buffer.alloc(0),
    );
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.closedWaiters.push(resolve);
      this.readingDone = true;
      // A stream already ended for a reason of its own keeps that reason.
      if (this.closeCode === 0) this.closeCode = REASONS.shutting_down.code;
      // Reading on (onData drops what comes now): a paused socket never sees the device's own end or its
      // answering CLOSE, and the close would wait for the 2 s destroy timer instead of the device.
      this.socket.resume();
      this.endWhenAnswered();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.readingDone) return;
    const items = this.decoder.push(chunk);
    for (const item of items) this.onItem(item);
    this.gate.notePending(this.decoder.pendingBytes);
    this.gate.holdIfNeeded(this.readingDone);
  }

  private onItem(item: DecodeItem): void {
    if (this.readingDone) return;
    if (!item.ok && item.fatal) {
      this.fail(item.reason, item.detail, item.raw);
      return;
    }
    const step = this.session.handle(item);
    if (step.kind === 'pending') {
      this.inFlight += 1;
      void step.answer.then((answer) => {
        this.inFlight -= 1;
        this.answer(answer);
        this.gate.releaseIfPossible(this.readingDone);
        if (this.readingDone) this.endWhenAnswered();
      });
      return;
    }
    this.answer(step.answer);
  }

  /** Writes one answer; a CLOSE from the device ends reading; a spent refusal budget ends the connection. */
  private answer(answer: SessionAnswer): void {
    if (answer.kind === 'close') {
      this.readingDone = true;
      this.endWhenAnswered();
      return;
    }
    // An authentic frame: this connection is a device's, never reaped to make room.
    if (answer.kind === 'ack') this.guard.pin(this.socket);
    const bytes = encodeAnswer(answer);
    if (bytes !== null) this.write(bytes);
    if (this.session.budgetSpent) this.fail('too_many_refusals', this.session.budgetDetail(), Buffer.alloc(0));
  }

  private onEnd(): void {
    for (const item of this.decoder.end()) this.onItem(item);
    this.readingDone = true;
    this.endWhenAnswered();
  }

  private onIdle(): void {
    if (this.gate.isHeld || this.inFlight > 0) {
      // Paused by us for backpressure: silence is our doing, not the device's. Arm the timer again: a
      // timeout that has fired waits for activity before it runs again.
      this.socket.setTimeout(this.options.idleTimeoutMs);
      return;
    }
    this.fail('idle_timeout', `no data for ${this.options.idleTimeoutMs} ms`, Buffer.alloc(0));
  }

  private onClose(): void {
    this.closed = true;
    this.gate.closed();
    this.registry.remove(this);
    for (const waiter of this.closedWaiters.splice(0)) waiter();
  }

  /** A broken stream: report it, keep it as a dead letter, close. */
  private fail(reason: ReasonCode, detail: string, raw: Uint8Array): void {
    if (this.readingDone) return;
    this.readingDone = true;
    this.closeCode = REASONS[reason].code;
    const bytes = encodeAnswer(this.session.refuseStream(reason, detail, raw));
    if (bytes !== null) this.write(bytes);
    this.endWhenAnswered();
  }

  private endWhenAnswered(): void {
    if (this.inFlight > 0 || this.closed) return;
    if (!this.socket.writableEnded) {
      this.socket.end(encodeClose(this.closeCode));
    }
    // Give the peer a moment to read the final frames, then make sure the socket is gone.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private write(bytes: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    // The acknowledgements of every frame one commit answers are written in the same turn: corked
    // until the turn ends, they leave as one write call instead of one system call per frame.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
    if (this.socket.writableLength > this.options.maxPendingWriteBytes) {
      this.options.logger.warn({ peer: this.peer }, 'device is not reading acknowledgements; closing');
      this.socket.destroy();
    }
  }
}
