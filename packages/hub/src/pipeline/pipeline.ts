/**
 * The pipeline facade ingest talks to: opens frames and legacy lines, turns every input into an
 * outcome (accepted, duplicate, or refused with a reason), counts it, keeps refusals as dead letters,
 * and hands verified readings to the group committer. Only committed readings are acknowledged,
 * broadcast live and remembered in the duplicate window.
 */
import { EventEmitter } from 'node:events';
import {
  REASONS,
  storableText,
  type DataFrame,
  type LegacyHashVariant,
  type LiveStats,
  type ReasonCode,
} from '@sealstream/protocol';
import { Committer, type CommittedBatch, type SubmitResult } from './committer.js';
import { DeadLetterFactory, type DeadLetterPolicy, type Refusal } from './dead-letters.js';
import { FrameOpener, ivIdOf, type FrameOpenOutcome, type RepeatedIvPolicy } from './frame-opener.js';
import { IvReplayWindow } from './iv-replay-window.js';
import { Iv16ReplayWindow } from './iv16-replay-window.js';
import type { KeyEntry, KeyResolver } from './keyring.js';
import { LegacyOpener, type LegacyLineOutcome, type LegacyLinePool } from './legacy-opener.js';
import { legacyLineOf } from './legacy-open-job.js';
import { MetricBound, type MetricBoundOptions } from './metric-bound.js';
import { RefusalTally } from './refusal-tally.js';
import { forgetShared, sharedSightings } from './shared-replay-check.js';
import type { SharedReplayWindow } from './shared-state-ports.js';

/** Longest a tally of refusals over the dead-letter budget waits for a commit to carry it. */
const TALLY_FLUSH_MS = 1_000;
const NO_SIGNALS: readonly SignalSummaryRow[] = [];
import type {
  DeadLetter,
  DeadLetterRow,
  LiveSink,
  PipelineMetrics,
  ReadingStore,
  SignalSummaryRow,
  SourceKind,
  VerifiedReading,
} from './ports.js';
import { planRedrive } from './redrive-plan.js';
import { SeqWindow } from './seq-window.js';
import { StatsTracker, type RatePoint } from './stats-tracker.js';

export interface PipelineLimits {
  readonly maxClockSkewMs: number;
  readonly maxReadingAgeMs: number;
  readonly maxReadingFutureMs: number;
  readonly maxReadingsPerFrame: number;
  readonly maxBatchRows: number;
  readonly maxQueuedRows: number;
  readonly highWaterRows: number;
  readonly commitConcurrency: number;
  /** Default 1000 (see Committer). */
  readonly commitParallelMinRows?: number;
  readonly commitRetryDeadlineMs: number;
  readonly replayWindowMaxEntries: number;
  readonly deadLetters: DeadLetterPolicy;
}

export interface LegacySettings {
  readonly key: Buffer;
  readonly device: string;
  readonly acceptVariants: readonly LegacyHashVariant[];
  /** How long a legacy IV is remembered at least. */
  readonly replayWindowMs: number;
}

export interface PipelineOptions {
  readonly store: ReadingStore;
  readonly metrics: PipelineMetrics;
  readonly keys: KeyResolver;
  readonly limits: PipelineLimits;
  readonly legacy?: LegacySettings;
  /** Metrics per device (metric-bound.ts); absent: unbounded. */
  readonly metricBound?: MetricBoundOptions;
  /**
   * Worker threads that open legacy lines (LegacyOpenPool), owned by the caller, who also closes it.
   * Absent: lines open on the event loop.
   */
  readonly legacyPool?: LegacyLinePool;
  /**
   * Replay windows shared with other hubs (Redis). Checked after the local window, for authentic input
   * only; when the shared store cannot answer, the input is refused `state_unavailable`. Absent: the
   * in-memory windows are the whole check (one hub), and nothing here costs anything.
   */
  readonly shared?: {
    readonly frameIvs: SharedReplayWindow;
    readonly legacyIvs: SharedReplayWindow;
  };
  readonly now?: () => number;
  readonly onCommitError?: (error: unknown, attempt: number) => void;
}

export type FrameAnswer =
  | {
      readonly kind: 'ack';
      readonly accepted: number;
      readonly duplicates: number;
      readonly rejected: number;
      /** The first reading refused, when any was: what a request whose readings were all refused answers. */
      readonly firstRefusal?: { readonly reason: ReasonCode; readonly detail: string };
      /** Signal summaries not stored (`index` into the `signals` submitted), see SignalRefusal. */
      readonly refusedSignals?: readonly SignalRefusal[];
    }
  | { readonly kind: 'error'; readonly reason: ReasonCode; readonly detail: string };

type OpenedReadings = Extract<FrameOpenOutcome, { ok: true }>;

/**
 * A signal summary that was not stored. Either a reading of its signal was refused by the checks (the
 * summary would claim points that are not stored; the reading's refusal is counted and dead-lettered
 * already: `deadLettered`), or the store refused the summary itself for its data (`store_refused`, not
 * yet counted nor dead-lettered: the caller holds the signal's bytes and does both).
 */
export interface SignalRefusal {
  readonly index: number;
  readonly reason: ReasonCode;
  readonly detail: string;
  readonly deadLettered: boolean;
}

/** What re-driving a dead letter did. 'unavailable' means the store or queue could not take it now. */
export type RedriveAnswer =
  | {
      readonly outcome: 'accepted' | 'duplicate' | 'refused';
      readonly accepted: number;
      readonly duplicates: number;
      readonly rejected: number;
      readonly reason?: ReasonCode;
      readonly detail?: string;
    }
  | { readonly outcome: 'not_redrivable'; readonly detail: string }
  | { readonly outcome: 'unavailable'; readonly reason: ReasonCode; readonly detail: string };

function refused(reason: ReasonCode, detail: string): RedriveAnswer {
  return { outcome: 'refused', accepted: 0, duplicates: 0, rejected: 1, reason, detail };
}

export interface PipelineEvents {
  drain: [];
}

export class Pipeline extends EventEmitter<PipelineEvents> {
  private readonly committer: Committer;
  private readonly frameOpener: FrameOpener;
  private readonly legacyOpener: LegacyOpener | undefined;
  private readonly seqWindow = new SeqWindow();
  private readonly deadLetterFactory: DeadLetterFactory;
  /** Refusals over the dead-letter budget: counted, and their counts stored with the next commit. */
  private readonly refusalTally = new RefusalTally();
  /** A counts-only commit for tallies no other commit picked up (a flood of bad input and nothing else). */
  private tallyTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly statsTracker: StatsTracker;
  private readonly liveSinks: LiveSink[] = [];
  private readonly metricBound: MetricBound | undefined;
  /** Legacy lines handed to the legacy pool and not yet judged. */
  private readonly linesOpening = new Set<Promise<unknown>>();

  constructor(private readonly options: PipelineOptions) {
    super();
    const now = options.now ?? Date.now;
    this.now = now;
    const { limits } = options;
    this.statsTracker = new StatsTracker(now);
    this.metricBound = options.metricBound === undefined ? undefined : new MetricBound(options.metricBound);
    this.deadLetterFactory = new DeadLetterFactory(limits.deadLetters, now);
    this.frameOpener = new FrameOpener({
      keys: options.keys,
      // A generation as long as the skew window: a frame old enough to leave the window is stale anyway.
      ivWindow: new IvReplayWindow(limits.maxClockSkewMs, limits.replayWindowMaxEntries, now),
      seqWindow: this.seqWindow,
      maxClockSkewMs: limits.maxClockSkewMs,
      maxReadingAgeMs: limits.maxReadingAgeMs,
      maxReadingFutureMs: limits.maxReadingFutureMs,
      maxReadingsPerFrame: limits.maxReadingsPerFrame,
      now,
    });
    this.legacyOpener =
      options.legacy === undefined
        ? undefined
        : new LegacyOpener({
            key: options.legacy.key,
            device: options.legacy.device,
            acceptVariants: options.legacy.acceptVariants,
            ivWindow: new Iv16ReplayWindow(options.legacy.replayWindowMs, limits.replayWindowMaxEntries, now),
            now,
          });
    this.committer = new Committer({
      store: options.store,
      metrics: options.metrics,
      maxBatchRows: limits.maxBatchRows,
      maxQueuedRows: limits.maxQueuedRows,
      highWaterRows: limits.highWaterRows,
      concurrency: limits.commitConcurrency,
      ...(limits.commitParallelMinRows === undefined ? {} : { parallelMinRows: limits.commitParallelMinRows }),
      retryDeadlineMs: limits.commitRetryDeadlineMs,
      onCommitted: (batch) => this.committed(batch),
      ...(options.onCommitError === undefined ? {} : { onCommitError: options.onCommitError }),
      now,
    });
    this.committer.on('drain', () => this.emit('drain'));
  }

  /** Seeds the running totals from the store so they survive restarts. */
  async start(): Promise<void> {
    const [totals, byReason] = await Promise.all([this.options.store.totals(), this.options.store.rejectTotals()]);
    this.statsTracker.seed(totals, byReason);
  }

  addLiveSink(sink: LiveSink): void {
    this.liveSinks.push(sink);
  }

  get legacyEnabled(): boolean {
    return this.legacyOpener !== undefined;
  }

  /** True while ingest should stop reading sockets. */
  get saturated(): boolean {
    return this.committer.saturated;
  }

  get queuedRows(): number {
    return this.committer.queued;
  }

  stats(): LiveStats {
    return this.statsTracker.snapshot();
  }

  /** Per-second rates of the last five minutes, for a dashboard that opens now (GET /api/v1/stats/rates). */
  rateHistory(): RatePoint[] {
    return this.statsTracker.rateHistory();
  }

  /**
   * `repeatedIv`: what a frame whose key id and IV were seen before gets (frame-opener.ts); 'redelivered'
   * for transports that deliver the same message again by design (MQTT).
   */
  async handleDataFrame(
    frame: DataFrame,
    source: SourceKind,
    peer: string,
    repeatedIv: RepeatedIvPolicy = 'refuse',
  ): Promise<FrameAnswer> {
    return this.takeDataFrame(frame, source, peer, repeatedIv);
  }

  /**
   * `handleDataFrame`, but a frame refused while opening (key, suite, integrity, replay in this hub's
   * window, payload) is answered at once rather than through a promise: a stream that keeps a refusal
   * budget learns the budget is spent before it hands the pipeline the frames that follow.
   */
  takeDataFrame(
    frame: DataFrame,
    source: SourceKind,
    peer: string,
    repeatedIv: RepeatedIvPolicy = 'refuse',
  ): FrameAnswer | Promise<FrameAnswer> {
    const opened = this.frameOpener.open(frame, source, 'live', repeatedIv);
    if (!opened.ok) {
      this.refuse({ reason: opened.reason, source, peer, device: null, detail: opened.detail, raw: frame.raw });
      return { kind: 'error', reason: opened.reason, detail: opened.detail };
    }
    return this.takeOpened(frame, opened, source, peer, repeatedIv);
  }

  private async takeOpened(
    frame: DataFrame,
    opened: Extract<FrameOpenOutcome, { ok: true }>,
    source: SourceKind,
    peer: string,
    repeatedIv: RepeatedIvPolicy,
  ): Promise<FrameAnswer> {
    const shared = this.options.shared;
    // A frame this hub saw before and its transport delivers again by design (MQTT) skips the shared
    // window: it is answered by its readings (duplicate ACK when committed), as the local window decided.
    let repeated = opened.repeated === true;
    if (shared !== undefined && !repeated) {
      const [fresh] = (await sharedSightings(shared.frameIvs, [ivIdOf(frame)])) ?? [];
      if (fresh === false && repeatedIv === 'redelivered') {
        // Another hub opened it first (its MQTT session moved here): the same rule as a local repeat.
        repeated = true;
      } else if (fresh !== true) {
        const reason = fresh === false ? 'replayed_frame' : 'state_unavailable';
        const detail =
          fresh === false
            ? 'this key id and IV were already seen by another hub'
            : 'the shared replay window could not be reached; resend later';
        // Not checked, so not remembered here either (nor in Redis, if it recorded it after all: best
        // effort): the device's resend must open again.
        if (fresh === undefined) {
          this.frameOpener.forgetIv(frame);
          forgetShared(shared.frameIvs, [ivIdOf(frame)]);
        }
        this.refuse({ reason, source, peer, device: null, detail, raw: frame.raw });
        return { kind: 'error', reason, detail };
      }
    }
    // A redelivered frame's refusals were counted and kept when it was first opened.
    const answer = await this.submitOpened(opened, source, peer, repeated ? 'repeat' : 'live');
    if (answer.kind === 'error' && REASONS[answer.reason].scope === 'hub') {
      this.frameOpener.forgetIv(frame);
      if (shared !== undefined) forgetShared(shared.frameIvs, [ivIdOf(frame)]);
    }
    return answer;
  }

  /**
   * Readings whose sender was authenticated outside a sealed frame (an HTTP HMAC signature or a device
   * bearer token checked against `entry`). They get the same per-reading checks, outcomes and dead letters
   * as the contents of a frame.
   */
  async handleAuthenticatedReadings(
    candidates: readonly unknown[],
    entry: KeyEntry,
    source: SourceKind,
    peer: string,
    signals: readonly SignalSummaryRow[] = NO_SIGNALS,
  ): Promise<FrameAnswer> {
    if (entry.revoked) return { kind: 'error', reason: 'revoked_key', detail: 'key id was revoked' };
    const opened = this.frameOpener.checkReadings(candidates, entry, source);
    const [firstRefused] = opened.refused;
    if (signals.length === 0 || firstRefused === undefined) {
      return this.submitOpened(opened, source, peer, 'live', signals);
    }
    // A summary is stored only with all of its signal's readings.
    const answer = await this.submitOpened(opened, source, peer, 'live');
    if (answer.kind !== 'ack') return answer;
    const { reason, detail } = firstRefused;
    return { ...answer, refusedSignals: signals.map((_, index) => ({ index, reason, detail, deadLettered: true })) };
  }

  /**
   * Several inputs, each authenticated as its own key entry (an AMQP delivery burst of signals from many
   * devices), as ONE submission: the same per-reading checks, outcomes and dead letters as
   * handleAuthenticatedReadings part by part, but one entry in the commit queue and one answer for all,
   * so a burst costs one commit wait instead of one per input. An error answer means nothing of any part
   * was committed. Parts whose key was revoked take no part and are listed in `revoked` (by index) for
   * the caller to refuse, as handleAuthenticatedReadings refuses them. A part's `signal` summary (if
   * any) is committed in the same transaction as the readings, unless a reading of that part was refused
   * by the checks; a summary not stored is listed in `refusedSignals` by its part's index (SignalRefusal).
   * `patient`: a broker backlog's burst, which joins the next commit rather than starting a concurrent
   * one (see committer.ts).
   */
  async handleAuthenticatedParts(
    parts: ReadonlyArray<{
      readonly candidates: readonly unknown[];
      readonly entry: KeyEntry;
      readonly signal?: SignalSummaryRow;
    }>,
    source: SourceKind,
    peer: string,
    options: { readonly patient?: boolean } = {},
  ): Promise<{
    readonly answer: FrameAnswer;
    readonly revoked: readonly number[];
    readonly refusedSignals: readonly SignalRefusal[];
  }> {
    const revoked: number[] = [];
    const readings: VerifiedReading[] = [];
    const refusals: OpenedReadings['refused'] = [];
    const signals: SignalSummaryRow[] = [];
    /** The part each of `signals` came from. */
    const signalParts: number[] = [];
    const refusedByChecks: SignalRefusal[] = [];
    let knownDuplicates = 0;
    const receivedAt = this.now();
    for (let index = 0; index < parts.length; index += 1) {
      const part = parts[index] as (typeof parts)[number];
      if (part.entry.revoked) {
        revoked.push(index);
        continue;
      }
      const opened = this.frameOpener.checkReadings(part.candidates, part.entry, source, receivedAt);
      for (const reading of opened.readings) readings.push(reading);
      for (const refusal of opened.refused) refusals.push(refusal);
      knownDuplicates += opened.knownDuplicates;
      const [firstRefused] = opened.refused;
      if (part.signal !== undefined && firstRefused !== undefined) {
        // A summary is stored only with all of its signal's readings.
        const { reason, detail } = firstRefused;
        refusedByChecks.push({ index, reason, detail, deadLettered: true });
      } else if (part.signal !== undefined) {
        signals.push(part.signal);
        signalParts.push(index);
      }
    }
    const answer = await this.submitOpened(
      { ok: true, readings, refused: refusals, knownDuplicates },
      source,
      peer,
      'live',
      signals,
      options.patient === true,
    );
    const refusedSignals =
      answer.kind === 'ack' && answer.refusedSignals !== undefined
        ? answer.refusedSignals.map((refusal) => ({ ...refusal, index: signalParts[refusal.index] as number }))
        : [];
    return { answer, revoked, refusedSignals: answer.kind === 'ack' ? [...refusedByChecks, ...refusedSignals] : [] };
  }

  /**
   * `redrive` and `repeat` (a frame the transport delivered again): the refusals inside were counted and
   * kept when the input first arrived, so they are neither counted nor stored again.
   */
  private async submitOpened(
    opened: OpenedReadings,
    source: SourceKind,
    peer: string,
    mode: 'live' | 'redrive' | 'repeat' = 'live',
    signals: readonly SignalSummaryRow[] = NO_SIGNALS,
    patient = false,
  ): Promise<FrameAnswer> {
    opened = await this.boundMetrics(opened);
    const deadLetters: DeadLetter[] = [];
    if (mode === 'live') this.refuseAll(opened.refused, source, peer, deadLetters);
    if (opened.knownDuplicates > 0) {
      this.statsTracker.addDuplicate(opened.knownDuplicates);
      this.options.metrics.readingsDuplicate(source, opened.knownDuplicates);
    }
    const result = await this.submit(opened.readings, deadLetters, { signals, patient });
    if (!result.ok) return { kind: 'error', reason: result.reason, detail: result.detail };
    const storeRefused = result.refused ?? [];
    if (storeRefused.length > 0) {
      this.refuseAfterCommit(
        storeRefused.map(({ index, detail }) => {
          const reading = opened.readings[index] as VerifiedReading;
          return { device: reading.device, detail, raw: readingBytes(reading) };
        }),
        source,
        peer,
        mode,
      );
    }
    const first =
      opened.refused[0] ??
      (storeRefused[0] === undefined
        ? undefined
        : { reason: 'store_refused' as const, detail: storeRefused[0].detail });
    return {
      kind: 'ack',
      accepted: result.inserted,
      duplicates: result.duplicates + opened.knownDuplicates,
      rejected: opened.refused.length + storeRefused.length,
      ...(first === undefined ? {} : { firstRefusal: { reason: first.reason, detail: first.detail } }),
      ...(result.refusedSignals === undefined
        ? {}
        : {
            refusedSignals: result.refusedSignals.map(({ index, detail }) => ({
              index,
              reason: 'store_refused' as const,
              detail,
              deadLettered: false,
            })),
          }),
    };
  }

  /** The readings that would take their device past the metric bound move to the refusals. */
  private async boundMetrics(opened: OpenedReadings): Promise<OpenedReadings> {
    if (this.metricBound === undefined || opened.readings.length === 0) return opened;
    const checked = await this.metricBound.check(opened.readings);
    if (checked.refused.length === 0) return opened;
    return { ...opened, readings: checked.admitted, refused: [...opened.refused, ...checked.refused] };
  }

  /**
   * Readings the store refused for their data (the committer split their batch around them): counted,
   * and kept as dead letters in a commit of their own — unless this is a re-drive, whose letter is
   * already the record.
   */
  private refuseAfterCommit(
    refusals: ReadonlyArray<{ readonly device: string | null; readonly detail: string; readonly raw: Uint8Array }>,
    source: SourceKind,
    peer: string,
    mode: 'live' | 'redrive' | 'repeat',
  ): void {
    if (mode !== 'live') return;
    const letters: DeadLetter[] = [];
    this.refuseAll(
      refusals.map((refusal) => ({ ...refusal, reason: 'store_refused' as const })),
      source,
      peer,
      letters,
    );
    if (letters.length > 0 || this.refusalTally.size > 0) void this.submit([], letters);
  }

  /**
   * Tries a dead letter again after its cause was fixed (a key registered, a device allowed). Re-drives
   * skip freshness checks but nothing that proves authenticity; readings keep their identity, so a
   * re-drive that already succeeded answers 'duplicate'. A re-drive is never counted as a new refusal
   * and makes no new dead letter (an operator may repeat it): the letter itself stays the record, and
   * readings of a re-opened frame that fail their checks are reported in `rejected` only.
   */
  async redrive(letter: DeadLetterRow): Promise<RedriveAnswer> {
    const plan = planRedrive(letter);
    const source = letter.source;
    const peer = `redrive:${letter.id}`;
    let answer: FrameAnswer;
    switch (plan.kind) {
      case 'impossible':
        return { outcome: 'not_redrivable', detail: plan.why };
      case 'reading': {
        const entry = this.options.keys.keysForDevice(plan.device).find((key) => !key.revoked);
        if (entry === undefined) {
          return refused('unknown_key', `no live key may speak for device ${plan.device}`);
        }
        const checked = this.frameOpener.checkReadings([plan.candidate], entry, source);
        const [refusal] = checked.refused;
        if (refusal !== undefined) return refused(refusal.reason, refusal.detail);
        answer = await this.submitOpened(checked, source, peer, 'redrive');
        break;
      }
      case 'frame': {
        const opened = this.frameOpener.open(plan.frame, source, 'redrive');
        if (!opened.ok) return refused(opened.reason, opened.detail);
        answer = await this.submitOpened(opened, source, peer, 'redrive');
        break;
      }
      case 'legacy-token': {
        if (this.legacyOpener === undefined) return { outcome: 'not_redrivable', detail: 'legacy ingest is off' };
        const outcome = this.legacyOpener.openLine([plan.token], 'redrive', letter.receivedAt);
        const [refusal] = outcome.refused;
        if (refusal !== undefined) return refused(refusal.reason, refusal.detail);
        const result = await this.submit(outcome.readings, []);
        const [storeRefusal] = result.ok ? (result.refused ?? []) : [];
        if (storeRefusal !== undefined) return refused('store_refused', storeRefusal.detail);
        answer = result.ok
          ? { kind: 'ack', accepted: result.inserted, duplicates: result.duplicates, rejected: 0 }
          : { kind: 'error', reason: result.reason, detail: result.detail };
        break;
      }
    }
    if (answer.kind === 'error') return { outcome: 'unavailable', reason: answer.reason, detail: answer.detail };
    const counts = { accepted: answer.accepted, duplicates: answer.duplicates, rejected: answer.rejected };
    if (answer.accepted > 0) return { outcome: 'accepted', ...counts };
    if (answer.duplicates > 0) return { outcome: 'duplicate', ...counts };
    return { outcome: 'refused', ...counts, reason: letter.reason, detail: 'no reading of it passed the checks' };
  }

  /**
   * Opens and submits the tokens of one legacy DATA line. Legacy senders get no acknowledgement.
   * Tokens are byte strings without `|` (legacyLineOf); handleLegacyLine takes the line's bytes.
   */
  async handleLegacyTokens(tokens: readonly string[], peer: string): Promise<SubmitResult> {
    return this.handleLegacyLine(legacyLineOf(tokens), peer);
  }

  /** Opens and submits one legacy DATA line: its bytes after `DATA:`, tokens separated by `|`. */
  async handleLegacyLine(line: Uint8Array, peer: string): Promise<SubmitResult> {
    const opener = this.legacyOpener;
    if (opener === undefined) throw new Error('legacy protocol is not configured');
    const pool = this.options.legacyPool;
    const shared = this.options.shared;
    // Lines being opened or checked are tracked so close() commits lines that were read, not only queued ones.
    let outcome = pool === undefined ? opener.openBytes(line) : await this.tracked(opener.openLineWith(pool, line));
    let sharedIds: string[] = [];
    if (shared !== undefined && outcome.readings.length > 0) {
      sharedIds = outcome.tokenOf.map((index) => outcome.tokens.ivHex(index));
      outcome = await this.tracked(this.checkSharedLegacy(outcome, sharedIds, shared.legacyIvs));
      sharedIds = outcome.tokenOf.map((index) => outcome.tokens.ivHex(index));
    }
    const deadLetters: DeadLetter[] = [];
    this.refuseAll(outcome.refused, 'legacy', peer, deadLetters);
    const taken = outcome;
    const result = await this.submit(
      taken.readings,
      deadLetters,
      taken.copyRows === undefined ? {} : { copyRows: taken.copyRows },
    );
    // Not committed: a resend of the same tokens (to this hub or any other) is not a replay.
    if (!result.ok) {
      opener.forgetIvs(taken.tokenOf.map((index) => taken.tokens.ivHex(index)));
      if (shared !== undefined) forgetShared(shared.legacyIvs, sharedIds);
    }
    if (result.ok && result.refused !== undefined) {
      this.refuseAfterCommit(
        result.refused.map(({ index, detail }) => ({
          device: this.options.legacy?.device ?? null,
          detail,
          raw: taken.tokens.raw(taken.tokenOf[index] as number),
        })),
        'legacy',
        peer,
        'live',
      );
    }
    return result;
  }

  private async tracked<T>(work: Promise<T>): Promise<T> {
    this.linesOpening.add(work);
    try {
      return await work;
    } finally {
      this.linesOpening.delete(work);
    }
  }

  /**
   * The shared window's verdict on the authentic tokens of a line, in one round trip: a token another
   * hub already took is a replay; when the window cannot be reached every reading is refused
   * `state_unavailable` (never accepted unchecked).
   */
  private async checkSharedLegacy(
    outcome: LegacyLineOutcome,
    ids: readonly string[],
    window: SharedReplayWindow,
  ): Promise<LegacyLineOutcome> {
    const fresh = await sharedSightings(window, ids);
    // Not checked, so not taken: forgotten here (and in Redis, if it recorded them after all), so the
    // sender's resend is not refused as a replay.
    if (fresh === null) {
      this.legacyOpener?.forgetIvs(ids);
      forgetShared(window, ids);
    }
    const readings = [];
    const tokenOf = [];
    const refused = [...outcome.refused];
    for (let i = 0; i < outcome.readings.length; i += 1) {
      const index = outcome.tokenOf[i] as number;
      if (fresh?.[i] === true) {
        readings.push(outcome.readings[i] as VerifiedReading);
        tokenOf.push(index);
        continue;
      }
      refused.push({
        reason: fresh === null ? 'state_unavailable' : 'legacy_replayed_token',
        detail:
          fresh === null
            ? 'the shared replay window could not be reached'
            : 'a token with this IV was already received by another hub',
        raw: outcome.tokens.raw(index),
      });
    }
    // The rows were made for every reading; with some refused here the store formats the rest itself.
    const copyRows = readings.length === outcome.readings.length ? outcome.copyRows : undefined;
    return copyRows === undefined
      ? { readings, tokenOf, refused, tokens: outcome.tokens }
      : { readings, tokenOf, refused, tokens: outcome.tokens, copyRows };
  }

  /**
   * Counts a refusal and keeps it as a dead letter (within the dead-letter budget; over it, only its
   * count is stored, with the next commit). Never throws.
   */
  refuse(refusal: Refusal): void {
    this.count(refusal.source, refusal.reason);
    const kept: DeadLetter[] = [];
    if (!this.keep(refusal, kept)) return;
    // Fire and forget: a refusal has no sender waiting for its commit; overload drops it (counted above).
    void this.submit([], kept);
  }

  /** Stops accepting input and commits what is queued, with the last refusal counts. */
  async close(): Promise<void> {
    // Lines still in the legacy workers reach the committer before it closes.
    while (this.linesOpening.size > 0) await Promise.allSettled([...this.linesOpening]);
    clearTimeout(this.tallyTimer);
    this.tallyTimer = undefined;
    if (this.refusalTally.size > 0) void this.submit([], []);
    await this.committer.close();
  }

  /** A dead letter for `refusal` into `into` when the budget allows (true), else only its count (false). */
  private keep(refusal: Refusal, into: DeadLetter[]): boolean {
    const letter = this.deadLetterFactory.build(refusal);
    if (letter === null) {
      this.tally(refusal.device, refusal.reason, 1);
      return false;
    }
    into.push(letter);
    return true;
  }

  /**
   * The refusals of one frame, line or request: counted per reason rather than one by one, dead letters
   * kept while the budget lasts, the rest tallied per device and reason. A legacy line of a million
   * empty tokens then costs a pass over them, not a million metric updates and tally entries (it held
   * the event loop for a minute before).
   */
  private refuseAll(
    refusals: ReadonlyArray<{
      readonly reason: ReasonCode;
      readonly device?: string | null;
      readonly detail: string;
      readonly raw: Uint8Array;
    }>,
    source: SourceKind,
    peer: string,
    into: DeadLetter[],
  ): void {
    if (refusals.length === 0) return;
    const perReason = new Map<ReasonCode, number>();
    const overBudget = new Map<string, { device: string | null; reason: ReasonCode; count: number }>();
    let budgetLeft = true;
    for (const refusal of refusals) {
      perReason.set(refusal.reason, (perReason.get(refusal.reason) ?? 0) + 1);
      const device = refusal.device ?? null;
      if (budgetLeft) {
        const letter = this.deadLetterFactory.build({ ...refusal, device, source, peer });
        if (letter !== null) {
          into.push(letter);
          continue;
        }
        budgetLeft = false; // one batch is one peer: its share of the second does not come back within it
      }
      const key = device === null ? refusal.reason : `${device}\u0000${refusal.reason}`;
      const entry = overBudget.get(key);
      if (entry === undefined) overBudget.set(key, { device, reason: refusal.reason, count: 1 });
      else entry.count += 1;
    }
    for (const [reason, count] of perReason) this.count(source, reason, count);
    for (const entry of overBudget.values()) this.tally(entry.device, entry.reason, entry.count);
  }

  /** Refusals counted but not kept: their counts ride with the next commit, or a timer's within a second. */
  private tally(device: string | null, reason: ReasonCode, count: number): void {
    // The device id may be hostile text; it becomes a rollup key (a text column).
    this.refusalTally.add(device === null ? null : storableText(device), reason, this.now(), count);
    this.tallyTimer ??= setTimeout(() => {
      this.tallyTimer = undefined;
      if (this.refusalTally.size > 0) void this.submit([], []);
    }, TALLY_FLUSH_MS).unref();
  }

  /** Submits to the committer with the refusal counts waiting so far; they wait again if it refuses. */
  private async submit(
    readings: readonly VerifiedReading[],
    deadLetters: readonly DeadLetter[],
    extra: {
      readonly copyRows?: Uint8Array;
      readonly signals?: readonly SignalSummaryRow[];
      readonly patient?: boolean;
    } = {},
  ): Promise<SubmitResult> {
    const refusalCounts = this.refusalTally.take();
    const result = await this.committer.submit({
      readings,
      deadLetters,
      ...(refusalCounts.length === 0 ? {} : { refusalCounts }),
      ...(extra.copyRows === undefined ? {} : { copyRows: extra.copyRows }),
      ...(extra.signals === undefined || extra.signals.length === 0 ? {} : { signals: extra.signals }),
      ...(extra.patient === true ? { patient: true } : {}),
    });
    if (!result.ok) for (const tally of refusalCounts) this.refusalTally.restore(tally);
    return result;
  }

  private count(source: SourceKind, reason: ReasonCode, count = 1): void {
    this.statsTracker.addInvalid(reason, count);
    this.options.metrics.readingRejected(source, reason, count);
  }

  private committed(batch: CommittedBatch): void {
    const fresh = [];
    const duplicatesBySource = new Map<SourceKind, number>();
    const acceptedBySource = new Map<SourceKind, number>();
    for (let i = 0; i < batch.readings.length; i += 1) {
      const reading = batch.readings[i];
      if (reading === undefined) continue;
      this.seqWindow.recordCommitted(reading.device, reading.seq);
      const map = batch.inserted[i] === true ? acceptedBySource : duplicatesBySource;
      map.set(reading.source, (map.get(reading.source) ?? 0) + 1);
      if (batch.inserted[i] === true) fresh.push(reading);
    }
    for (const [source, count] of acceptedBySource) this.options.metrics.readingsAccepted(source, count);
    for (const [source, count] of duplicatesBySource) this.options.metrics.readingsDuplicate(source, count);
    this.statsTracker.addValid(fresh.length);
    this.statsTracker.addDuplicate(batch.readings.length - fresh.length);
    for (const sink of this.liveSinks) {
      try {
        if (fresh.length > 0) sink.committed(fresh, batch.committedAt);
        if (batch.deadLetters.length > 0) sink.rejected(batch.deadLetters);
      } catch {
        // A live sink must never break commits; sinks count their own failures.
      }
    }
  }
}

/** A reading as its sender wrote it (device, seq, ts, data), for the dead letter of a reading the store refused. */
function readingBytes(reading: VerifiedReading): Uint8Array {
  const { device, seq, ts, data } = reading;
  return Buffer.from(JSON.stringify({ device, seq, ts, data }), 'utf8');
}
