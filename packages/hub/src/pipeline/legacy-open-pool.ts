/**
 * A small, bounded pool of worker threads that open legacy lines (legacy-open-job.ts), so the AES,
 * SHA-256 and plaintext reading of ~100K tokens a second run beside the event loop instead of on it.
 *
 * Who owns it: the app (cli/start-hub.ts) creates it from --legacy-workers and passes it to the
 * Pipeline; no library starts threads on its own. Without a pool the pipeline opens lines inline.
 *
 * What it promises:
 * - Answers in submission order: open() promises settle in the order open() was called, whichever worker
 *   finished first, so the caller's IV replay check and commit order are those of arrival.
 * - Bounded: at most `maxQueuedLines` lines waiting or in a worker. Overflow policy: a line over the
 *   bound is opened inline, on the calling thread (what happens with no pool), which also slows the
 *   event loop's reading of sockets: backpressure without loss.
 * - A lost worker (crash, exit) loses no line and answers none twice: its unanswered lines are opened
 *   inline, a late answer for a line already answered is ignored, and the worker is replaced (up to
 *   `maxRestarts` times over the pool's life; after that its share runs inline).
 * Opening is stateless and deterministic, so inline and worker results are the same.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runLegacyOpenJob, type LegacyOpenAnswer, type LegacyOpenJob } from './legacy-open-job.js';

export interface LegacyOpenPoolOptions {
  /** Worker threads (at least 1). */
  readonly size: number;
  /** Lines waiting or in a worker before open() opens inline instead (default 64 per worker). */
  readonly maxQueuedLines?: number;
  /** Lines handed to one worker at a time (default 2: the next is ready when one finishes). */
  readonly maxInFlightPerWorker?: number;
  /** Replacements for lost workers over the pool's life (default 16). */
  readonly maxRestarts?: number;
  /** The worker's script; defaults to the built legacy-open-worker.js beside this module. */
  readonly workerUrl?: URL;
  /** Told when a worker is lost (for a log line); never throws into the pool. */
  readonly onWorkerLost?: (error: Error) => void;
}

export interface LegacyOpenPoolStats {
  readonly workers: number;
  /** Lines accepted and not yet answered (waiting, in a worker, or done but behind an earlier line). */
  readonly pending: number;
  /** Lines opened inline because the queue was full, no worker was left, or a worker was lost. */
  readonly openedInline: number;
  readonly workersLost: number;
}

interface Entry {
  readonly id: number;
  readonly job: LegacyOpenJob;
  readonly resolve: (opened: LegacyOpenAnswer) => void;
  readonly reject: (error: Error) => void;
  outcome:
    | { readonly ok: true; readonly opened: LegacyOpenAnswer }
    | { readonly ok: false; readonly error: Error }
    | undefined;
}

interface Slot {
  readonly worker: Worker;
  /** Ids of the lines this worker holds. */
  readonly holding: Set<number>;
  lost: boolean;
}

interface Answer {
  readonly id: number;
  readonly answer: LegacyOpenAnswer;
}

const DEFAULT_QUEUE_PER_WORKER = 64;
const DEFAULT_IN_FLIGHT_PER_WORKER = 2;
const DEFAULT_MAX_RESTARTS = 16;

export class LegacyOpenPool {
  private readonly slots: Slot[] = [];
  /** Every unanswered line, in submission order. */
  private readonly order: Entry[] = [];
  /** Lines not yet handed to a worker, in submission order. */
  private readonly waiting: Entry[] = [];
  private readonly byId = new Map<number, Entry>();
  private readonly maxQueued: number;
  private readonly maxInFlightPerWorker: number;
  private readonly workerUrl: URL;
  private restartsLeft: number;
  private nextId = 1;
  private inline = 0;
  private lost = 0;
  private closed = false;

  constructor(private readonly options: LegacyOpenPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error('legacy open pool: size must be >= 1');
    this.maxQueued = options.maxQueuedLines ?? DEFAULT_QUEUE_PER_WORKER * options.size;
    this.maxInFlightPerWorker = options.maxInFlightPerWorker ?? DEFAULT_IN_FLIGHT_PER_WORKER;
    this.restartsLeft = options.maxRestarts ?? DEFAULT_MAX_RESTARTS;
    this.workerUrl = options.workerUrl ?? new URL('./legacy-open-worker.js', import.meta.url);
    // Fail at start, not in a loop of lost workers (running from TypeScript sources, there is no .js).
    if (this.workerUrl.protocol === 'file:' && !existsSync(fileURLToPath(this.workerUrl))) {
      throw new Error(`legacy open pool: worker script ${fileURLToPath(this.workerUrl)} is missing (build first)`);
    }
    for (let i = 0; i < options.size; i += 1) this.slots.push(this.spawn());
  }

  /** Opens one line's tokens; settles after every earlier open() has. */
  open(job: LegacyOpenJob): Promise<LegacyOpenAnswer> {
    return new Promise<LegacyOpenAnswer>((resolve, reject) => {
      const entry: Entry = { id: this.nextId++, job, resolve, reject, outcome: undefined };
      this.order.push(entry);
      const live = this.slots.some((slot) => !slot.lost);
      if (this.closed || !live || this.order.length > this.maxQueued) {
        this.runInline(entry);
        this.deliver();
        return;
      }
      this.byId.set(entry.id, entry);
      this.waiting.push(entry);
      this.dispatch();
    });
  }

  stats(): LegacyOpenPoolStats {
    return {
      workers: this.slots.filter((slot) => !slot.lost).length,
      pending: this.order.length,
      openedInline: this.inline,
      workersLost: this.lost,
    };
  }

  /** Stops the workers; lines they still held are opened inline, so every open() settles. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const slots = this.slots.splice(0);
    for (const slot of slots) slot.lost = true;
    for (const entry of this.waiting.splice(0)) this.runInline(entry);
    for (const slot of slots) for (const id of slot.holding) this.runInlineById(id);
    this.deliver();
    await Promise.all(slots.map((slot) => slot.worker.terminate().catch(() => undefined)));
  }

  private spawn(): Slot {
    const worker = new Worker(this.workerUrl);
    const slot: Slot = { worker, holding: new Set(), lost: false };
    worker.on('message', (answer: Answer) => this.answered(slot, answer));
    worker.on('error', (error) => this.workerLost(slot, error));
    worker.on('exit', (code) => this.workerLost(slot, new Error(`legacy open worker exited (code ${code})`)));
    // An idle pool must not keep the process alive (close() is still how the app ends it); a worker
    // holding lines does, so their answers arrive (dispatch refs it, answered unrefs it when idle).
    worker.unref();
    return slot;
  }

  /** Hands waiting lines out, each to the live worker holding the fewest, so lines spread over workers. */
  private dispatch(): void {
    while (this.waiting.length > 0) {
      let target: Slot | undefined;
      for (const slot of this.slots) {
        if (slot.lost || slot.holding.size >= this.maxInFlightPerWorker) continue;
        if (target === undefined || slot.holding.size < target.holding.size) target = slot;
      }
      if (target === undefined) return;
      const entry = this.waiting.shift() as Entry;
      if (target.holding.size === 0) target.worker.ref();
      target.holding.add(entry.id);
      target.worker.postMessage({ id: entry.id, job: entry.job });
    }
  }

  private answered(slot: Slot, answer: Answer): void {
    slot.holding.delete(answer.id);
    if (slot.holding.size === 0) slot.worker.unref();
    const entry = this.byId.get(answer.id);
    // Unknown: already answered inline after this worker was given up for lost.
    if (entry !== undefined && entry.outcome === undefined) {
      this.byId.delete(entry.id);
      entry.outcome = { ok: true, opened: answer.answer };
    }
    this.dispatch();
    this.deliver();
  }

  private workerLost(slot: Slot, error: Error): void {
    if (slot.lost) return;
    slot.lost = true;
    if (this.closed) return;
    this.lost += 1;
    this.options.onWorkerLost?.(error);
    const index = this.slots.indexOf(slot);
    if (index >= 0) {
      if (this.restartsLeft > 0) {
        this.restartsLeft -= 1;
        this.slots[index] = this.spawn();
      } else {
        this.slots.splice(index, 1);
      }
    }
    for (const id of slot.holding) this.runInlineById(id);
    slot.holding.clear();
    if (!this.slots.some((s) => !s.lost)) for (const entry of this.waiting.splice(0)) this.runInline(entry);
    void slot.worker.terminate().catch(() => undefined);
    this.dispatch();
    this.deliver();
  }

  private runInlineById(id: number): void {
    const entry = this.byId.get(id);
    if (entry !== undefined) this.runInline(entry);
  }

  private runInline(entry: Entry): void {
    this.byId.delete(entry.id);
    if (entry.outcome !== undefined) return;
    this.inline += 1;
    try {
      entry.outcome = { ok: true, opened: runLegacyOpenJob(entry.job) };
    } catch (error) {
      entry.outcome = { ok: false, error: error instanceof Error ? error : new Error(String(error)) };
    }
  }

  /** Settles answered lines from the front, stopping at the first still open. */
  private deliver(): void {
    while (this.order.length > 0) {
      const head = this.order[0] as Entry;
      const outcome = head.outcome;
      if (outcome === undefined) return;
      this.order.shift();
      if (outcome.ok) head.resolve(outcome.opened);
      else head.reject(outcome.error);
    }
  }
}
