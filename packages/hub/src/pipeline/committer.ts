/**
 * The bounded group-commit queue between ingest and the store.
 *
 * Submissions (the readings and dead letters of one frame, line or request) wait here until committed
 * together. There is no linger timer: when the store is idle a submission commits at once (small
 * batches, low latency); while a commit is in flight the next batch accumulates (big batches under
 * load). A submission is never split, so its acknowledgement covers all of it. A second concurrent
 * commit starts only when at least `parallelMinRows` rows wait (default 1: at once). The threshold was
 * 1000 while every commit upserted the same minute-bucket rows and concurrent small commits waited on
 * each other's row locks; since commits only append a rollup-journal row, two small commits overlap
 * their fsyncs instead (bench latency-20k, quiet machine: p50 10–13 ms with 1 against 15–18 with 1000).
 * Patient submissions (a broker backlog: AMQP bursts) never start that second commit unless a full batch
 * of `maxBatchRows` waits: they join the next commit instead, so a backlog commits in large batches. Per
 * message, a commit's fixed cost (round trips, statement setup, WAL flush) is then spread over
 * ~800–900 messages instead of ~190 (bench amqp-xray-backlog on a busy machine: PostgreSQL 29–32 µs
 * per message against 35–41).
 *
 * Bound and overflow policy: above `highWaterRows` the committer reports `saturated` and ingest stops
 * reading sockets (backpressure); a submission that would exceed `maxQueuedRows` is refused at once as
 * `overloaded` (the sender retries).
 *
 * A failed commit is handled by what the store's error code says retrying can do (store-error.ts):
 * - `store_unavailable`: retried with backoff until `retryDeadlineMs`; then the affected submissions are
 *   answered `store_unavailable` and nothing of them is acknowledged;
 * - `store_refused_data`: one row's data is refused, and would be on every retry: the batch is split
 *   (commit-splitter.ts) so that row alone is refused (`store_refused`, reported per submission, which the
 *   pipeline dead-letters) and the rest commit — a submission's readings are then answered one by one;
 * - `store_defect`: nothing can commit until someone fixes the store: answered `store_unavailable` at once.
 */
import { EventEmitter } from 'node:events';
import type { ReasonCode } from '@sealstream/protocol';
import { splitRefusedBatch, type ReadingFate, type SignalFate } from './commit-splitter.js';
import type {
  CommitBatch,
  CommitResult,
  CopyPart,
  DeadLetter,
  PipelineMetrics,
  ReadingStore,
  RefusalCount,
  SignalSummaryRow,
  VerifiedReading,
} from './ports.js';
import { storeErrorCodeOf } from './store-error.js';

export interface Submission {
  readonly readings: readonly VerifiedReading[];
  readonly deadLetters: readonly DeadLetter[];
  /** Refusals counted but not kept (over the dead-letter budget); they ride along with this commit. */
  readonly refusalCounts?: readonly RefusalCount[];
  /**
   * The strict COPY rows of `readings` (copy-rows.ts), when whoever opened them already wrote them (a
   * legacy line, in a worker thread): the store sends these bytes instead of formatting the readings.
   */
  readonly copyRows?: Uint8Array;
  /** Signal summaries committed in the same transaction as the readings (see CommitBatch.signals). */
  readonly signals?: readonly SignalSummaryRow[];
  /**
   * Throughput before latency: its sender keeps sending while it waits (a broker's backlog under a
   * prefetch window), so it does not start a second concurrent commit of its own (see the header).
   */
  readonly patient?: boolean;
}

/** A reading of a submission that the store refused for its data; `index` is its position in the submission. */
export interface StoreRefusal {
  readonly index: number;
  readonly detail: string;
}

export type SubmitResult =
  | {
      readonly ok: true;
      readonly inserted: number;
      readonly duplicates: number;
      /** Readings the store refused for their data (after a split); absent when none was. */
      readonly refused?: readonly StoreRefusal[];
      /**
       * Signal summaries of the submission the store refused for their data (after a split; `index` into
       * its `signals`); absent when none was. Their readings are judged on their own (`refused`).
       */
      readonly refusedSignals?: readonly StoreRefusal[];
    }
  | {
      readonly ok: false;
      readonly reason: Extract<ReasonCode, 'overloaded' | 'store_unavailable' | 'shutting_down'>;
      readonly detail: string;
    };

export interface CommittedBatch {
  readonly readings: readonly VerifiedReading[];
  readonly inserted: readonly boolean[];
  readonly deadLetters: readonly DeadLetter[];
  readonly committedAt: number;
}

export interface CommitterOptions {
  readonly store: ReadingStore;
  readonly metrics: PipelineMetrics;
  readonly maxBatchRows: number;
  readonly maxQueuedRows: number;
  readonly highWaterRows: number;
  /** Commits in flight at once: 1 for PGlite (one connection), 2+ for a server. */
  readonly concurrency: number;
  /** Rows that must be waiting before a commit starts while another is in flight. Default 1. */
  readonly parallelMinRows?: number;
  readonly retryDeadlineMs: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /** Called after every successful commit, before submitters are answered. Must not throw. */
  readonly onCommitted: (batch: CommittedBatch) => void;
  readonly onCommitError?: (error: unknown, attempt: number) => void;
  readonly now?: () => number;
}

interface Pending {
  readonly submission: Submission;
  readonly rows: number;
  /** performance.now() when it was queued. */
  readonly queuedAt: number;
  readonly resolve: (result: SubmitResult) => void;
}

export const DEFAULT_PARALLEL_MIN_ROWS = 1;

export interface CommitterEvents {
  drain: [];
}

export class Committer extends EventEmitter<CommitterEvents> {
  private queue: Pending[] = [];
  private queuedRows = 0;
  /** Rows in `queue`, i.e. not yet taken by a commit in flight. */
  private waitingRows = 0;
  /** The part of `waitingRows` that patient submissions hold. */
  private waitingPatientRows = 0;
  private inFlight = 0;
  private closing = false;
  private readonly now: () => number;
  private idleWaiters: Array<() => void> = [];
  private pumpScheduled = false;

  constructor(private readonly options: CommitterOptions) {
    super();
    this.now = options.now ?? Date.now;
  }

  submit(submission: Submission): Promise<SubmitResult> {
    if (this.closing) return Promise.resolve(refused('shutting_down', 'the hub is closing'));
    // Refusal counts weigh one row: cheap, but they must not be dropped as an empty submission.
    const rows =
      submission.readings.length +
      submission.deadLetters.length +
      (submission.signals?.length ?? 0) +
      ((submission.refusalCounts?.length ?? 0) > 0 ? 1 : 0);
    if (rows === 0) return Promise.resolve({ ok: true, inserted: 0, duplicates: 0 });
    if (this.queuedRows + rows > this.options.maxQueuedRows && this.queuedRows > 0) {
      return Promise.resolve(
        refused('overloaded', `commit queue holds ${this.queuedRows} rows (bound ${this.options.maxQueuedRows})`),
      );
    }
    return new Promise<SubmitResult>((resolve) => {
      this.queue.push({ submission, rows, resolve, queuedAt: performance.now() });
      this.queuedRows += rows;
      this.waitingRows += rows;
      if (submission.patient === true) this.waitingPatientRows += rows;
      this.options.metrics.queueDepth(this.queuedRows);
      this.schedulePump();
    });
  }

  /** True while ingest should stop reading: the queue is above its high-water mark. */
  get saturated(): boolean {
    return this.queuedRows >= this.options.highWaterRows;
  }

  get queued(): number {
    return this.queuedRows;
  }

  /** Stops accepting, commits everything already queued, then resolves. */
  async close(): Promise<void> {
    this.closing = true;
    await this.idle();
  }

  idle(): Promise<void> {
    if (this.queue.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Starts commits after the current I/O callbacks have run, so every frame already read from the
   * sockets joins the batch. This matters most for PGlite, whose commits run on this thread: without
   * the deferral the first frame of each read would commit alone.
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
      this.resolveIdleWaiters();
    });
  }

  private pump(): void {
    const parallelMinRows = this.options.parallelMinRows ?? DEFAULT_PARALLEL_MIN_ROWS;
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      if (this.inFlight > 0) {
        // Only patient rows wait: they go with the next commit unless a full batch is ready.
        const onlyPatient = this.waitingPatientRows === this.waitingRows;
        if (this.waitingRows < (onlyPatient ? this.options.maxBatchRows : parallelMinRows)) break;
      }
      const batch = this.takeBatch();
      this.inFlight += 1;
      void this.commitWithRetry(batch).finally(() => {
        this.inFlight -= 1;
        this.afterCommit();
      });
    }
  }

  private afterCommit(): void {
    this.schedulePump();
    if (!this.saturated) this.emit('drain');
  }

  private resolveIdleWaiters(): void {
    if (this.queue.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private takeBatch(): Pending[] {
    const batch: Pending[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0];
      if (next === undefined || (batch.length > 0 && rows + next.rows > this.options.maxBatchRows)) break;
      this.queue.shift();
      batch.push(next);
      rows += next.rows;
      if (next.submission.patient === true) this.waitingPatientRows -= next.rows;
    }
    this.waitingRows -= rows;
    return batch;
  }

  private async commitWithRetry(batch: Pending[]): Promise<void> {
    const readings: VerifiedReading[] = [];
    const deadLetters: DeadLetter[] = [];
    const refusalCounts: RefusalCount[] = [];
    const copyParts: CopyPart[] = [];
    let withRows = 0;
    const signals: SignalSummaryRow[] = [];
    for (const pending of batch) {
      const { submission } = pending;
      for (const reading of submission.readings) readings.push(reading);
      for (const letter of submission.deadLetters) deadLetters.push(letter);
      for (const tally of submission.refusalCounts ?? []) refusalCounts.push(tally);
      if (submission.signals !== undefined) for (const signal of submission.signals) signals.push(signal);
      if (submission.readings.length === 0) continue;
      copyParts.push({ readings: submission.readings.length, rows: submission.copyRows });
      if (submission.copyRows !== undefined) withRows += 1;
    }
    const commitBatch: CommitBatch = {
      readings,
      deadLetters,
      ...(refusalCounts.length === 0 ? {} : { refusalCounts }),
      ...(withRows === 0 ? {} : { copyParts }),
      ...(signals.length === 0 ? {} : { signals }),
    };
    const deadline = this.now() + this.options.retryDeadlineMs;
    let delay = this.options.retryInitialMs ?? 100;
    for (let attempt = 1; ; attempt += 1) {
      const started = performance.now();
      try {
        const result = await this.options.store.commit(commitBatch);
        this.options.metrics.batchCommitted(readings.length, deadLetters.length, (performance.now() - started) / 1000);
        this.release(batch);
        this.options.onCommitted({ readings, inserted: result.inserted, deadLetters, committedAt: this.now() });
        this.answer(batch, result.inserted);
        return;
      } catch (error) {
        this.options.metrics.commitFailed();
        this.options.onCommitError?.(error, attempt);
        const code = storeErrorCodeOf(error);
        if (code === 'store_refused_data') {
          await this.split(batch, commitBatch, error);
          return;
        }
        if (code === 'store_defect') {
          this.release(batch);
          for (const pending of batch) {
            pending.resolve(
              refused('store_unavailable', 'the store cannot commit until its operator fixes it; resend later'),
            );
          }
          return;
        }
        if (this.now() + delay > deadline) break;
        await sleep(delay);
        delay = Math.min(delay * 2, this.options.retryMaxMs ?? 2000);
      }
    }
    this.release(batch);
    for (const pending of batch) pending.resolve(refused('store_unavailable', 'the store could not commit; resend'));
  }

  /**
   * The batch's commit was refused for one row's data: commit it in parts around the refused rows, then
   * answer each submission from its readings' fates. A submission with a reading the split could not
   * resolve (the store failed otherwise meanwhile) is answered store_unavailable as a whole: what of it
   * committed is a harmless duplicate when resent.
   */
  private async split(batch: Pending[], commitBatch: CommitBatch, error: unknown): Promise<void> {
    let outcome: Awaited<ReturnType<typeof splitRefusedBatch>>;
    try {
      outcome = await this.splitParts(commitBatch, error);
    } catch {
      // A defect in a callback: no submitter may be left waiting for ever.
      this.release(batch);
      for (const pending of batch) pending.resolve(refused('store_unavailable', 'the store could not commit; resend'));
      return;
    }
    this.release(batch);
    let index = 0;
    let signalIndex = 0;
    const durableAt = performance.now();
    for (const pending of batch) {
      const count = pending.submission.readings.length;
      const fates = outcome.fates.slice(index, index + count);
      index += count;
      const signals = pending.submission.signals?.length ?? 0;
      const signalFates = outcome.signalFates.slice(signalIndex, signalIndex + signals);
      signalIndex += signals;
      // A summary the split could not commit (the store failed otherwise meanwhile): not durable, so its
      // submission is not either. One the store refused for its data is reported (it never could be).
      pending.resolve(
        signalFates.some((fate) => fate.kind === 'unresolved')
          ? refused('store_unavailable', 'the store could not commit; resend')
          : this.answerFates(fates, durableAt - pending.queuedAt, signalFates),
      );
    }
  }

  private splitParts(commitBatch: CommitBatch, error: unknown): ReturnType<typeof splitRefusedBatch> {
    return splitRefusedBatch(commitBatch, error, {
      commit: (part) => this.options.store.commit(part),
      onPartCommitted: (part: CommitBatch, result: CommitResult) => {
        this.options.metrics.batchCommitted(part.readings.length, part.deadLetters.length, 0);
        this.options.onCommitted({
          readings: part.readings,
          inserted: result.inserted,
          deadLetters: part.deadLetters,
          committedAt: this.now(),
        });
      },
      onPartFailed: (partError) => {
        this.options.metrics.commitFailed();
        this.options.onCommitError?.(partError, 0);
      },
    });
  }

  private answerFates(
    fates: readonly ReadingFate[],
    waitedMs: number,
    signalFates: readonly SignalFate[] = [],
  ): SubmitResult {
    let inserted = 0;
    let duplicates = 0;
    const refusals: StoreRefusal[] = [];
    for (let i = 0; i < fates.length; i += 1) {
      const fate = fates[i] as ReadingFate;
      if (fate.kind === 'unresolved') return refused('store_unavailable', 'the store could not commit; resend');
      if (fate.kind === 'inserted') inserted += 1;
      else if (fate.kind === 'duplicate') duplicates += 1;
      else refusals.push({ index: i, detail: fate.detail });
    }
    const refusedSignals: StoreRefusal[] = [];
    signalFates.forEach((fate, index) => {
      if (fate.kind === 'refused') refusedSignals.push({ index, detail: fate.detail });
    });
    this.options.metrics.submissionDurable(waitedMs / 1000);
    return {
      ok: true,
      inserted,
      duplicates,
      ...(refusals.length === 0 ? {} : { refused: refusals }),
      ...(refusedSignals.length === 0 ? {} : { refusedSignals }),
    };
  }

  private release(batch: Pending[]): void {
    for (const pending of batch) this.queuedRows -= pending.rows;
    this.options.metrics.queueDepth(this.queuedRows);
  }

  private answer(batch: Pending[], inserted: readonly boolean[]): void {
    let index = 0;
    const durableAt = performance.now();
    for (const pending of batch) {
      this.options.metrics.submissionDurable((durableAt - pending.queuedAt) / 1000);
      let fresh = 0;
      for (let i = 0; i < pending.submission.readings.length; i += 1) {
        if (inserted[index] === true) fresh += 1;
        index += 1;
      }
      pending.resolve({ ok: true, inserted: fresh, duplicates: pending.submission.readings.length - fresh });
    }
  }
}

function refused(reason: 'overloaded' | 'store_unavailable' | 'shutting_down', detail: string): SubmitResult {
  return { ok: false, reason, detail };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
