/**
 * The interfaces the pipeline needs from the outside world. Storage, live fan-out and (later) the
 * message bus implement these; the pipeline never imports their implementations.
 */
import type { ReasonCode } from '@sealstream/protocol';

/** Which ingest path a reading or reject came through. */
export type SourceKind = 'tcp' | 'legacy' | 'http' | 'mqtt' | 'amqp';

/** A verified reading ready to commit. */
export interface VerifiedReading {
  readonly device: string;
  readonly seq: number;
  /** Device creation time, ms since epoch. */
  readonly ts: number;
  readonly data: Readonly<Record<string, unknown>>;
  readonly source: SourceKind;
  /** Hub receive time, ms since epoch. */
  readonly receivedAt: number;
}

/** A refused input kept for inspection and re-drive. `raw` is already cut to the configured bound. */
export interface DeadLetter {
  readonly reason: ReasonCode;
  readonly source: SourceKind;
  /** Peer description, e.g. "127.0.0.1:50122"; never a secret. */
  readonly peer: string;
  /** Device id when it is known (e.g. schema failure inside a good frame), else null. */
  readonly device: string | null;
  readonly detail: string;
  readonly raw: Uint8Array;
  /** True when `raw` was cut to the bound. */
  readonly truncated: boolean;
  readonly receivedAt: number;
}

/**
 * The per-signal summary of an XRayIOT signal (table xray_signals), committed in the same transaction
 * as the signal's readings: a commit that fails leaves neither. Stored once per (device, time, payload).
 */
export interface SignalSummaryRow {
  readonly deviceId: string;
  /** The sample data's `time`, or capturedAt for any other payload (ms since the epoch). */
  readonly time: number;
  readonly capturedAt: number;
  readonly receivedAt: number;
  /** Data points (readings) the signal holds. */
  readonly dataLength: number;
  /** Bytes of the decoded payload. */
  readonly dataVolume: number;
  readonly format: string;
  readonly source: SourceKind;
  readonly correlationId: string | null;
  /** SHA-256 of the payload text: with device and time, what makes a resent signal the same signal. */
  readonly payloadSha256: Uint8Array;
}

/** Refusals of one reason, device and minute that were counted but not kept as dead letters. */
export interface RefusalCount {
  readonly device: string | null;
  readonly reason: ReasonCode;
  /** Any time in the minute they count in. */
  readonly receivedAt: number;
  readonly count: number;
}

export interface CommitBatch {
  readonly readings: readonly VerifiedReading[];
  readonly deadLetters: readonly DeadLetter[];
  /** Counted in the minute rollups like dead letters, but nothing is stored for them. */
  readonly refusalCounts?: readonly RefusalCount[];
  /**
   * `readings` in consecutive parts (their counts add up to all of them), each with its strict COPY rows
   * (copy-rows.ts) where they were made in advance; absent when no part has them.
   */
  readonly copyParts?: readonly CopyPart[];
  /** Signal summaries written in the same transaction as the readings (absent: none). */
  readonly signals?: readonly SignalSummaryRow[];
}

/** Some consecutive readings of a commit batch, and their strict COPY rows if made in advance. */
export interface CopyPart {
  readonly readings: number;
  readonly rows: Uint8Array | undefined;
}

export interface CommitResult {
  /** Parallel to `batch.readings`: true when the row was new, false when (device, seq, ts) already existed. */
  readonly inserted: readonly boolean[];
}

export interface StoreTotals {
  readonly valid: number;
  readonly invalid: number;
}

export interface DeadLetterRow {
  readonly id: string;
  readonly reason: ReasonCode;
  readonly source: SourceKind;
  readonly peer: string;
  readonly device: string | null;
  readonly detail: string;
  readonly raw: Uint8Array;
  readonly truncated: boolean;
  readonly receivedAt: number;
  /** When an operator last re-drove it, and what happened (accepted, duplicate, refused); absent on old reads. */
  readonly redrivenAt?: number | null;
  readonly redriveOutcome?: string | null;
}

export interface MinuteBucketRow {
  readonly device: string;
  /** Start of the minute, ms since epoch (UTC). */
  readonly minute: number;
  readonly valid: number;
  readonly invalid: number;
  /** Per numeric field: min, max, sum and count over the minute. */
  readonly metrics: Readonly<Record<string, { min: number; max: number; sum: number; count: number }>>;
}

export interface StoredReading {
  readonly device: string;
  readonly seq: number;
  readonly ts: number;
  readonly receivedAt: number;
  readonly source: SourceKind;
  readonly data: Readonly<Record<string, unknown>>;
}

/**
 * Durable storage. `commit` is one transaction: readings (idempotent), their minute buckets and the
 * dead letters all land, or none do. It rejects (throws) only when the store is unreachable or broken;
 * the pipeline then acknowledges nothing and senders resend.
 */
export interface ReadingStore {
  readonly kind: 'pglite' | 'postgres';
  migrate(): Promise<void>;
  commit(batch: CommitBatch): Promise<CommitResult>;
  totals(): Promise<StoreTotals>;
  /** Refusals per reason code as stored, so per-reason counts survive restarts. */
  rejectTotals(): Promise<Partial<Record<string, number>>>;
  recentDeadLetters(limit: number): Promise<DeadLetterRow[]>;
  minuteBuckets(device: string, fromMs: number, toMs: number): Promise<MinuteBucketRow[]>;
  readings(device: string, fromMs: number, toMs: number, limit: number): Promise<StoredReading[]>;
  /** Liveness probe for /healthz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What the pipeline tells the live layer after each commit. Must not block; must not throw. */
export interface LiveSink {
  committed(readings: readonly VerifiedReading[], committedAt: number): void;
  rejected(deadLetters: readonly DeadLetter[]): void;
}

/** Counters and histograms the pipeline reports into; observability/metrics.ts implements it with prom-client. */
export interface PipelineMetrics {
  readingsAccepted(source: SourceKind, count: number): void;
  readingsDuplicate(source: SourceKind, count: number): void;
  readingRejected(source: SourceKind, reason: ReasonCode, count: number): void;
  /** One successful commit: its size in readings and how long the store took. */
  batchCommitted(readings: number, deadLetters: number, seconds: number): void;
  /** One submission made durable: seconds from entering the commit queue to its commit (wait + commit). */
  submissionDurable(seconds: number): void;
  commitFailed(): void;
  /** Readings waiting for commit right now (gauge). */
  queueDepth(readings: number): void;
  /** Sockets paused because the writer is behind (gauge). */
  pausedConnections(count: number): void;
  connectionOpened(source: SourceKind): void;
  connectionClosed(source: SourceKind): void;
  /** A new connection closed at once because its listener was at its connection bound. */
  connectionDropped(source: SourceKind): void;
}
