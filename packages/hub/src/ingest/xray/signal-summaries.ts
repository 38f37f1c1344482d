/**
 * Writes XRayIOT signal summaries in batches: many messages in flight each wait for their summary row,
 * and one multi-row statement carries all that arrived meanwhile (a row-by-row INSERT would cap the
 * AMQP consumer near the database's single-statement rate).
 *
 * Bound and overflow policy: at most `maxQueued` rows wait; a row over it is refused at once
 * ('overloaded'), so its message is answered busy (HTTP 503, AMQP requeue) instead of queueing without
 * limit. A failed statement fails every row of its batch ('store_unavailable'); nothing is retried here:
 * the sender's resend is idempotent (readings dedupe on (device, ts, seq), summaries on their key).
 */
import type { SignalSummary } from './xray-signal.js';

export interface SignalSummaryRecord extends SignalSummary {
  readonly receivedAt: number;
  readonly source: string;
}

/** What the store provides (store/xray-signals.ts implements it). */
export interface SignalSummaryStore {
  insertSignalSummaries(rows: readonly SignalSummaryRecord[]): Promise<void>;
}

export type SummaryWrite =
  { readonly ok: true } | { readonly ok: false; readonly reason: 'overloaded' | 'store_unavailable' };

interface Waiting {
  readonly row: SignalSummaryRecord;
  readonly done: (result: SummaryWrite) => void;
}

export class SignalSummaryWriter {
  private queue: Waiting[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly store: SignalSummaryStore,
    private readonly options: {
      readonly maxQueued: number;
      readonly maxBatch: number;
      readonly concurrency: number;
    } = {
      maxQueued: 50_000,
      maxBatch: 2_000,
      concurrency: 2,
    },
    private readonly onError?: (error: unknown) => void,
  ) {}

  write(row: SignalSummaryRecord): Promise<SummaryWrite> {
    if (this.queue.length >= this.options.maxQueued) return Promise.resolve({ ok: false, reason: 'overloaded' });
    return new Promise((done) => {
      this.queue.push({ row, done });
      this.schedule();
    });
  }

  /**
   * Several rows (one delivery burst) answered together: ok once every row is stored, else the first
   * failure. The queue bound applies to them as a whole, except into an empty queue (a burst larger than
   * the bound must still be writable).
   */
  writeAll(rows: readonly SignalSummaryRecord[]): Promise<SummaryWrite> {
    if (rows.length === 0) return Promise.resolve({ ok: true });
    if (this.queue.length > 0 && this.queue.length + rows.length > this.options.maxQueued) {
      return Promise.resolve({ ok: false, reason: 'overloaded' });
    }
    return new Promise((resolve) => {
      let remaining = rows.length;
      let outcome: SummaryWrite = { ok: true };
      const done = (result: SummaryWrite): void => {
        if (!result.ok && outcome.ok) outcome = result;
        remaining -= 1;
        if (remaining === 0) resolve(outcome);
      };
      for (const row of rows) this.queue.push({ row, done });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // One turn of the event loop lets every message of the same delivery burst join the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.options.concurrency) {
      const batch = this.queue.slice(0, this.options.maxBatch);
      this.queue = this.queue.slice(batch.length);
      this.inFlight += 1;
      void this.flush(batch);
    }
  }

  private async flush(batch: readonly Waiting[]): Promise<void> {
    let result: SummaryWrite = { ok: true };
    try {
      await this.store.insertSignalSummaries(batch.map((waiting) => waiting.row));
    } catch (error) {
      this.onError?.(error);
      result = { ok: false, reason: 'store_unavailable' };
    } finally {
      this.inFlight -= 1;
    }
    for (const waiting of batch) waiting.done(result);
    this.pump();
  }
}
