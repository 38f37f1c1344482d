/**
 * The read budget: how many API reads run at once, how many may wait for a turn, and for how long.
 * Heavy reads (series over many metrics, raw pages) once ran as many at a time as clients sent them and
 * took the connections and the CPU commits needed: the native ACK p50 went from 3 ms to seconds. Reads
 * now take a slot here first; when every slot is taken and the wait queue is full, or a read waited
 * longer than `maxWaitMs`, it fails at once with ReadsBusyError (the API answers 503 with Retry-After),
 * never hangs. Writes (commits, folds) never pass through it.
 */

/** Why a read was turned away: no room to wait, waited too long, or the statement ran past its bound. */
export type ReadsBusyWhy = 'queue_full' | 'wait_timeout' | 'read_timeout';

/** A read the budget refused; carries no data values. The API maps it to 503 `reads_busy`. */
export class ReadsBusyError extends Error {
  override readonly name = 'ReadsBusyError';

  constructor(
    readonly why: ReadsBusyWhy,
    readonly retryAfterSeconds: number,
  ) {
    super(
      why === 'read_timeout'
        ? 'store: a read ran past its time bound'
        : why === 'queue_full'
          ? 'store: too many reads are running and waiting'
          : 'store: a read waited too long for its turn',
    );
  }
}

export interface ReadBudgetOptions {
  /** Reads running at once. */
  readonly concurrency: number;
  /** Reads waiting for a slot at most; one more is refused `queue_full`. */
  readonly maxWaiting: number;
  /** Longest a read waits for a slot before it is refused `wait_timeout`. */
  readonly maxWaitMs: number;
}

export const DEFAULT_READ_CONCURRENCY = 2;
export const DEFAULT_READ_QUEUE = 32;
export const DEFAULT_READ_WAIT_MS = 5_000;

interface Waiter {
  readonly start: () => void;
  readonly timer: NodeJS.Timeout;
}

export class ReadBudget {
  private running = 0;
  private readonly waiting: Waiter[] = [];
  /** Seconds a refused client is told to wait: about one wait bound, at least 1. */
  readonly retryAfterSeconds: number;

  constructor(private readonly options: ReadBudgetOptions) {
    for (const [name, value] of Object.entries(options)) {
      if (!Number.isSafeInteger(value) || value < (name === 'maxWaiting' ? 0 : 1)) {
        throw new Error(`store: read budget ${name} must be a positive integer`);
      }
    }
    this.retryAfterSeconds = Math.max(1, Math.ceil(options.maxWaitMs / 1000));
  }

  /** Reads running now and waiting now (gauges for tests and metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  /** Runs `read` when a slot is free; rejects with ReadsBusyError when none frees up in time. */
  async run<T>(read: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await read();
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.running < this.options.concurrency) {
      this.running += 1;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.options.maxWaiting) {
      return Promise.reject(new ReadsBusyError('queue_full', this.retryAfterSeconds));
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        timer: setTimeout(() => {
          const index = this.waiting.indexOf(waiter);
          if (index >= 0) this.waiting.splice(index, 1);
          reject(new ReadsBusyError('wait_timeout', this.retryAfterSeconds));
        }, this.options.maxWaitMs),
      };
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next waiter: `running` stays the same.
    if (next !== undefined) next.start();
    else this.running -= 1;
  }
}
