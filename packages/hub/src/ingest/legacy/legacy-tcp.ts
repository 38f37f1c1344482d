/**
 * Legacy line-protocol ingest over TCP, byte-compatible with the seed "encrypted-timeseries" listener:
 * `AUTH:<token>\n` is answered `AUTH_OK\n` in its own write (or `AUTH_FAIL\n` and close), then each
 * `DATA:<tok>|...|<tok>\n` line is opened (its tokens in one batch, each judged alone) and committed. The
 * seed protocol has no acknowledgement, so nothing is written after AUTH_OK. Lines are buffered across
 * chunks and capped.
 *
 * Returns an unlistened net.Server; the app decides the port.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  LEGACY_AUTH_FAIL,
  LEGACY_AUTH_OK,
  LineSplitter,
  legacyLineTokenCount,
  parseLegacyLine,
  type ByteLineItem,
} from '@sealstream/protocol';
import type { Logger } from 'pino';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { PipelineMetrics } from '../../pipeline/ports.js';
import { ConnectionRegistry, type TrackedConnection } from '../connection-registry.js';
import { describePeer } from '../peer.js';
import type { ConnectionGuard, ConnectionGuardMetrics } from '../connection-guard.js';
import { boundListener } from '../listener-bounds.js';
import { ReadGate } from '../read-gate.js';

export interface LegacyIngestOptions {
  readonly pipeline: Pipeline;
  readonly metrics: PipelineMetrics;
  readonly logger: Logger;
  readonly authToken: string;
  /** Further AUTH tokens accepted beside authToken (demo mode: the seed's example token and the old demo one). */
  readonly extraAuthTokens?: readonly string[];
  readonly maxLineBytes: number;
  /**
   * Tokens one DATA line may carry (the seed sends 49–499). A line of a megabyte can hold a million
   * empty or one-character tokens, each a refusal to count; past this bound the line is refused whole
   * without being split or opened.
   */
  readonly maxTokensPerLine: number;
  /** A partial line not completed within this long closes the connection (slow sender). */
  readonly partialLineTimeoutMs: number;
  /**
   * No bytes at all for this long closes the connection, after AUTH too: otherwise an authenticated but
   * silent peer would hold its socket for ever (the seed protocol has no heartbeat).
   */
  readonly idleTimeoutMs: number;
  /** Open connections on this listener; a new one beyond it is closed at once and counted. */
  readonly maxConnections: number;
  /** Connections one client address (IPv6: one /64) may hold; default a quarter of maxConnections. */
  readonly maxConnectionsPerAddress?: number;
  readonly guardMetrics?: ConnectionGuardMetrics;
  /** Lines submitted but not yet committed, per connection, before the socket is paused. */
  readonly maxInFlightLines: number;
}

export interface LegacyIngest {
  readonly server: Server;
  readonly connections: ConnectionRegistry;
  close(): Promise<void>;
}

export function createLegacyIngest(options: LegacyIngestOptions): LegacyIngest {
  if (!options.pipeline.legacyEnabled) throw new Error('the pipeline has no legacy settings');
  const connections = new ConnectionRegistry('legacy', options.metrics);
  const onDrain = (): void => connections.drain();
  options.pipeline.on('drain', onDrain);
  const expectedDigests = [options.authToken, ...(options.extraAuthTokens ?? [])].map(digest);
  const server = createServer((socket) => {
    // Refused by the guard (its address is over its share): already destroyed.
    if (socket.destroyed) return;
    new LegacyConnection(socket, options, connections, expectedDigests, guard);
  });
  const guard = boundListener(server, {
    source: 'legacy',
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

/** Kept instead of a refused line that may hold the AUTH token. */
const REDACTED_LINE = Buffer.from('<redacted: may hold the AUTH token>', 'latin1');

/** Hashing both sides gives equal-length buffers, so the comparison is constant-time whatever the input. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Compares against every accepted token (no early exit), so the time taken does not say which matched. */
function matchesAny(candidate: Buffer, expected: readonly Buffer[]): boolean {
  let matched = false;
  for (const digestOf of expected) matched = timingSafeEqual(candidate, digestOf) || matched;
  return matched;
}

class LegacyConnection implements TrackedConnection {
  private readonly splitter: LineSplitter;
  private readonly peer: string;
  private authenticated = false;
  private inFlight = 0;
  private readonly gate: ReadGate;
  private finished = false;
  private closedWaiters: Array<() => void> = [];
  private closed = false;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    readonly socket: Socket,
    private readonly options: LegacyIngestOptions,
    private readonly registry: ConnectionRegistry,
    private readonly expectedDigests: readonly Buffer[],
    private readonly guard: ConnectionGuard,
  ) {
    this.splitter = new LineSplitter({ maxLineBytes: options.maxLineBytes });
    this.peer = describePeer(socket);
    this.gate = new ReadGate(
      socket,
      registry,
      () => options.pipeline.saturated || this.inFlight >= options.maxInFlightLines,
    );
    registry.add(this);
    // The seed emitter sends AUTH as soon as it connects. Without this deadline an unauthenticated peer
    // (silent, or sending empty lines, which reset the idle timeout) would hold its socket for ever.
    this.authTimer = setTimeout(() => this.onAuthDeadline(), options.partialLineTimeoutMs);
    this.authTimer.unref();
    socket.setTimeout(options.idleTimeoutMs);
    socket.on('timeout', () => this.onIdle());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => {
      for (const item of this.splitter.endBytes()) this.onLine(item);
      this.finish();
    });
    socket.on('error', (error) => options.logger.debug({ peer: this.peer, err: error.message }, 'legacy socket error'));
    socket.on('close', () => {
      clearTimeout(this.authTimer);
      this.closed = true;
      this.gate.closed();
      registry.remove(this);
      for (const waiter of this.closedWaiters.splice(0)) waiter();
    });
  }

  onDrain(): void {
    this.gate.releaseIfPossible(this.finished);
  }

  isStalled(now: number): boolean {
    return this.gate.stalledLongerThan(now, this.options.partialLineTimeoutMs);
  }

  onStalled(): void {
    this.refuse(
      'idle_timeout',
      `partial line not completed within ${this.options.partialLineTimeoutMs} ms`,
      Buffer.alloc(0),
    );
    this.finish();
  }

  private onIdle(): void {
    if (this.finished) return;
    if (this.gate.isHeld || this.inFlight > 0) {
      // Paused by us for backpressure, or lines still committing: the silence is ours, not the peer's.
      // Arm the timer again: a timeout that has fired waits for activity before it runs again.
      this.socket.setTimeout(this.options.idleTimeoutMs);
      return;
    }
    this.refuse('idle_timeout', `no data for ${this.options.idleTimeoutMs} ms`, Buffer.alloc(0));
    this.finish();
  }

  private onAuthDeadline(): void {
    if (this.authenticated || this.finished) return;
    this.refuse(
      'idle_timeout',
      `no successful AUTH within ${this.options.partialLineTimeoutMs} ms of connecting`,
      Buffer.alloc(0),
    );
    this.finish();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.closedWaiters.push(resolve);
      this.finish();
    });
  }

  private onData(chunk: Buffer): void {
    if (this.finished) return;
    for (const item of this.splitter.pushBytes(chunk)) this.onLine(item);
    this.gate.notePending(this.splitter.pendingBytes);
    this.gate.holdIfNeeded(this.finished);
  }

  /**
   * Lines arrive as bytes. An authenticated DATA line stays bytes all the way to the worker that opens
   * it (as one string it would cost more than its opening, see LineSplitter.pushBytes); every other line
   * is short and read as UTF-8 text, as the seed listener reads it.
   */
  private onLine(item: ByteLineItem): void {
    if (this.finished) return;
    if (!item.ok) {
      this.refuse(item.reason, item.detail, this.storable(item.raw));
      return;
    }
    const bytes = item.bytes;
    if (bytes.length === 0) return;
    if (this.authenticated && isDataLine(bytes)) {
      // As parseLegacyLine does, a second carriage return before the newline is not part of the line.
      const end = bytes[bytes.length - 1] === CARRIAGE_RETURN ? bytes.length - 1 : bytes.length;
      const data = bytes.subarray(DATA_PREFIX.length, Math.max(DATA_PREFIX.length, end));
      if (barsExceed(data, this.options.maxTokensPerLine)) {
        this.refuse(
          'legacy_too_many_tokens',
          `DATA line carries more than ${this.options.maxTokensPerLine} tokens`,
          this.storable(Buffer.from(bytes.subarray(0, 256))),
        );
        return;
      }
      this.submit(data);
      return;
    }
    const line = parseLegacyLine(bytes.toString('utf8'));
    switch (line.kind) {
      case 'auth':
        this.authenticate(line.token);
        return;
      case 'data':
        // Not authenticated (an authenticated DATA line was taken above).
        // Nothing a peer sends before AUTH is kept: `DATA:AUTH:<token>` would store the fleet's token.
        this.refuse('legacy_not_authenticated', 'DATA line before AUTH', REDACTED_LINE);
        this.finish();
        return;
      case 'unknown':
        this.refuse(
          'legacy_unknown_line',
          'line is neither AUTH: nor DATA:',
          this.storable(Buffer.from(line.text, 'latin1')),
        );
    }
  }

  private authenticate(token: string): void {
    if (matchesAny(digest(token), this.expectedDigests)) {
      this.authenticated = true;
      clearTimeout(this.authTimer);
      // Authenticated: this connection is never reaped to make room.
      this.guard.pin(this.socket);
      this.socket.write(LEGACY_AUTH_OK);
      return;
    }
    // The offered token is a secret (perhaps a mistyped real one): never store or log it.
    this.refuse('legacy_auth_failed', 'AUTH token does not match', Buffer.from('AUTH:<redacted>', 'latin1'));
    this.socket.write(LEGACY_AUTH_FAIL);
    this.finish();
  }

  /** `data`: the line's bytes after `DATA:`. */
  private submit(data: Buffer): void {
    this.inFlight += 1;
    const settled = (): void => {
      this.inFlight -= 1;
      this.gate.releaseIfPossible(this.finished);
      if (this.finished) this.endWhenAnswered();
    };
    void this.options.pipeline.handleLegacyLine(data, this.peer).then(
      (result) => {
        if (!result.ok) {
          const tokens = legacyLineTokenCount(data);
          // The seed protocol cannot tell the emitter; count and log so the loss is visible.
          this.options.metrics.readingRejected('legacy', result.reason, tokens);
          this.options.logger.warn({ peer: this.peer, reason: result.reason, tokens }, 'legacy line not committed');
        }
        settled();
      },
      (error: unknown) => {
        // A defect while handling one line: logged, kept as a dead letter, and the hub goes on.
        this.options.logger.error({ err: error, peer: this.peer }, 'handling a legacy line failed');
        this.refuse(
          'internal_error',
          `the hub failed while handling a line of ${legacyLineTokenCount(data)} tokens`,
          Buffer.from(data.subarray(0, 256)),
        );
        settled();
      },
    );
  }

  /**
   * The bytes of a refused line to keep in its dead letter. A line that is not a well-formed AUTH line may
   * still carry the AUTH token (`auth:<token>`, a BOM or NUL before `AUTH:`, an over-long AUTH line), so
   * nothing is kept of lines before AUTH succeeded, nor of later lines that mention AUTH in any spelling.
   */
  private storable(raw: Uint8Array): Uint8Array {
    if (!this.authenticated || /auth/i.test(Buffer.from(raw).toString('latin1'))) return REDACTED_LINE;
    return raw;
  }

  private refuse(reason: Parameters<Pipeline['refuse']>[0]['reason'], detail: string, raw: Uint8Array): void {
    this.options.pipeline.refuse({ reason, source: 'legacy', peer: this.peer, device: null, detail, raw });
  }

  private finish(): void {
    this.finished = true;
    this.socket.pause();
    this.endWhenAnswered();
  }

  private endWhenAnswered(): void {
    if (this.inFlight > 0 || this.closed) return;
    if (!this.socket.writableEnded) this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

const DATA_PREFIX = Buffer.from('DATA:', 'latin1');
const BAR = 0x7c;
const CARRIAGE_RETURN = 0x0d;

function isDataLine(bytes: Buffer): boolean {
  return (
    bytes.length >= DATA_PREFIX.length && bytes.compare(DATA_PREFIX, 0, DATA_PREFIX.length, 0, DATA_PREFIX.length) === 0
  );
}

/** True when `data` (a DATA line after `DATA:`) has at least `max` separators, i.e. more than `max` tokens. */
function barsExceed(data: Uint8Array, max: number): boolean {
  let separators = 0;
  for (let at = data.indexOf(BAR); at !== -1; at = data.indexOf(BAR, at + 1)) {
    separators += 1;
    if (separators >= max) return true;
  }
  return false;
}
