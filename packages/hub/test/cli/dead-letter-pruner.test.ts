/**
 * The hub's dead-letter prune timer: counts what was pruned per bound in
 * sealstream_dead_letters_pruned_total and logs it at info, logs failures once per run of failures,
 * runs one prune at a time, and on stop aborts the running prune and waits for it.
 */
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { startDeadLetterPruner, type PrunableStore } from '../../src/cli/dead-letter-pruner.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { PruneOutcome } from '../../src/store/index.js';

const BOUNDS = { maxRows: 1000, maxAgeMs: 3_600_000 };

function fakeLogger(): Logger & { info: ReturnType<typeof vi.fn>; warn: ReturnType<typeof vi.fn> } {
  return { info: vi.fn(), warn: vi.fn() } as unknown as Logger & {
    info: ReturnType<typeof vi.fn>;
    warn: ReturnType<typeof vi.fn>;
  };
}

async function pruned(metrics: ReturnType<typeof createMetrics>, bound: 'age' | 'rows'): Promise<number> {
  const text = await metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`sealstream_dead_letters_pruned_total{bound="${bound}"}`));
  return Number(line?.split(' ').at(-1));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('startDeadLetterPruner', () => {
  it('counts and logs what each run pruned, and says nothing when nothing was', async () => {
    const outcomes: PruneOutcome[] = [
      { byAge: 5, byRows: 0, more: false },
      { byAge: 0, byRows: 0, more: false },
      { byAge: 2, byRows: 30, more: true },
    ];
    const store: PrunableStore = {
      pruneDeadLetters: vi.fn((bounds) => {
        expect(bounds).toEqual(BOUNDS);
        return Promise.resolve(outcomes.shift() ?? { byAge: 0, byRows: 0, more: false });
      }),
    };
    const logger = fakeLogger();
    const metrics = createMetrics();
    expect(await pruned(metrics, 'age')).toBe(0);
    const pruner = startDeadLetterPruner(store, BOUNDS, 10, logger, metrics.deadLetters);
    await vi.waitFor(() => expect(outcomes).toHaveLength(0));
    await pruner.stop();
    expect(await pruned(metrics, 'age')).toBe(7);
    expect(await pruned(metrics, 'rows')).toBe(30);
    expect(logger.info).toHaveBeenCalledTimes(2);
    expect(logger.info.mock.calls[1]?.[0]).toEqual({ byAge: 2, byRows: 30, more: true });
  });

  it('logs a failure once per run of failures, and the recovery', async () => {
    let calls = 0;
    const store: PrunableStore = {
      pruneDeadLetters: () => {
        calls += 1;
        return calls <= 3
          ? Promise.reject(new Error('store down'))
          : Promise.resolve({ byAge: 0, byRows: 0, more: false });
      },
    };
    const logger = fakeLogger();
    const pruner = startDeadLetterPruner(store, BOUNDS, 10, logger, createMetrics().deadLetters);
    await vi.waitFor(() => expect(calls).toBeGreaterThanOrEqual(5));
    await pruner.stop();
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.info).toHaveBeenCalledWith('dead-letter prune recovered');
  });

  it('runs one prune at a time; stop aborts the running one and waits for it', async () => {
    let running = 0;
    let most = 0;
    let finish: (() => void) | undefined;
    let seenSignal: AbortSignal | undefined;
    const store: PrunableStore = {
      pruneDeadLetters: (_bounds, { signal }) => {
        seenSignal = signal;
        running += 1;
        most = Math.max(most, running);
        return new Promise((resolve) => {
          finish = () => {
            running -= 1;
            resolve({ byAge: 0, byRows: 0, more: signal.aborted });
          };
        });
      },
    };
    const pruner = startDeadLetterPruner(store, BOUNDS, 5, fakeLogger(), createMetrics().deadLetters);
    await vi.waitFor(() => expect(finish).toBeDefined());
    await sleep(50); // many ticks while the first prune runs
    let stopped = false;
    const stopping = pruner.stop().then(() => (stopped = true));
    await sleep(10);
    expect(seenSignal?.aborted).toBe(true);
    expect(stopped).toBe(false);
    finish?.();
    await stopping;
    expect(most).toBe(1);
  });
});
