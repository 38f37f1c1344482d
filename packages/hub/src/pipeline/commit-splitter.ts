/**
 * Isolates what the store refuses for its data. When a commit fails with `store_refused_data` (one
 * reading, dead letter or tally holds a value PostgreSQL will not take), retrying the batch cannot help
 * and refusing all of it would lose every good row with the bad one. The batch is halved and each half
 * committed on its own, recursively, until every refused item stands alone: a refused reading is
 * reported (the pipeline answers it `store_refused` and keeps it as a dead letter), a refused dead letter
 * is tried once more bare (its text fields replaced by fixed text, its bytes kept), a refused tally is
 * dropped (nothing in it could ever be stored), and a refused signal summary is reported like a reading
 * (its submitter refuses the signal `store_refused` and keeps it as a dead letter; its readings are
 * judged on their own). Everything else commits. The same pattern as the rollup fold's savepoints
 * (store/rollup-journal.ts), one level up: here each half is its own commit, so what commits is durable
 * at once.
 *
 * Cost: one refused row among n costs about 2·log2(n) commits, once. The number of failed commits per
 * batch is bounded (`maxFailedCommits`, plus one per halving level already under way); beyond it the
 * readings not yet isolated are refused too, so a
 * batch made of nothing but poison cannot hold the committer for n commits. A failure that is not about
 * data (the store went away mid-split) stops the split: what committed stays committed, the rest is
 * reported unresolved and its submitters get `store_unavailable`.
 */
import { storeErrorCodeOf } from './store-error.js';
import type { CommitBatch, CommitResult, DeadLetter, RefusalCount, SignalSummaryRow } from './ports.js';

const COMMITTED: SignalFate = { kind: 'committed' };

/** Failed commits one split may spend; 1 refused row among 5000 needs about 13. */
export const MAX_FAILED_SPLIT_COMMITS = 64;

type Item =
  | { readonly kind: 'reading'; readonly index: number }
  | { readonly kind: 'letter'; readonly letter: DeadLetter; readonly bare: boolean }
  | { readonly kind: 'counts'; readonly counts: readonly RefusalCount[] }
  | { readonly kind: 'signal'; readonly index: number };

type Refused = { readonly kind: 'refused'; readonly detail: string };

/** What became of a signal summary of the batch: committed, refused for its data, or not known. */
export type SignalFate = { readonly kind: 'committed' } | Refused | { readonly kind: 'unresolved' };

export type ReadingFate =
  { readonly kind: 'inserted' } | { readonly kind: 'duplicate' } | Refused | { readonly kind: 'unresolved' };

export interface SplitOptions {
  readonly commit: (batch: CommitBatch) => Promise<CommitResult>;
  /** Each part that committed, with the store's answer for its readings. */
  readonly onPartCommitted: (part: CommitBatch, result: CommitResult) => void;
  /** Each failed commit of a part. */
  readonly onPartFailed?: (error: unknown) => void;
  readonly maxFailedCommits?: number;
}

export interface SplitOutcome {
  /** Parallel to the batch's readings. */
  readonly fates: ReadingFate[];
  /** Parallel to the batch's signal summaries (empty when it has none). */
  readonly signalFates: SignalFate[];
  /** Dead letters the store refused even bare, and refusal tallies it refused: not stored. */
  readonly lettersDropped: number;
  readonly tallyDropped: boolean;
  /** Commits that failed during the split (the failure that started it not included). */
  readonly failedCommits: number;
  /** The failure that stopped the split early, when one did (not a data refusal). */
  readonly stoppedBy?: unknown;
}

/**
 * Splits `batch`, whose commit as a whole just failed with `store_refused_data` (`firstError`), into
 * parts that commit and items that are refused alone.
 */
export async function splitRefusedBatch(
  batch: CommitBatch,
  firstError: unknown,
  options: SplitOptions,
): Promise<SplitOutcome> {
  const readings = batch.readings;
  const fates: ReadingFate[] = new Array<ReadingFate>(readings.length).fill({ kind: 'unresolved' });
  const signals = batch.signals ?? [];
  const signalFates: SignalFate[] = new Array<SignalFate>(signals.length).fill({ kind: 'unresolved' });
  const maxFailed = options.maxFailedCommits ?? MAX_FAILED_SPLIT_COMMITS;
  let failedCommits = 0;
  let lettersDropped = 0;
  let tallyDropped = false;
  let stoppedBy: unknown;
  let stopped = false;

  const items: Item[] = [];
  for (let index = 0; index < readings.length; index += 1) items.push({ kind: 'reading', index });
  for (const letter of batch.deadLetters) items.push({ kind: 'letter', letter, bare: false });
  if ((batch.refusalCounts?.length ?? 0) > 0) items.push({ kind: 'counts', counts: batch.refusalCounts ?? [] });
  for (let index = 0; index < signals.length; index += 1) items.push({ kind: 'signal', index });

  const refuseAlone = (item: Item, error: unknown): Item | undefined => {
    switch (item.kind) {
      case 'reading':
        fates[item.index] = { kind: 'refused', detail: refusalDetail(error, 'reading') };
        return undefined;
      case 'letter':
        if (!item.bare) return { kind: 'letter', letter: bareLetter(item.letter), bare: true };
        lettersDropped += 1;
        return undefined;
      case 'counts':
        tallyDropped = true;
        return undefined;
      case 'signal':
        signalFates[item.index] = { kind: 'refused', detail: refusalDetail(error, 'signal summary') };
        return undefined;
    }
  };

  const settle = async (part: readonly Item[], knownError?: unknown): Promise<void> => {
    if (part.length === 0 || stopped) return;
    let error = knownError;
    if (error === undefined) {
      const partBatch = batchOf(part, batch);
      try {
        const result = await options.commit(partBatch);
        let at = 0;
        for (const item of part) {
          if (item.kind === 'signal') signalFates[item.index] = COMMITTED;
          if (item.kind !== 'reading') continue;
          fates[item.index] = result.inserted[at] === true ? { kind: 'inserted' } : { kind: 'duplicate' };
          at += 1;
        }
        options.onPartCommitted(partBatch, result);
        return;
      } catch (caught) {
        error = caught;
        failedCommits += 1;
        options.onPartFailed?.(caught);
      }
    }
    if (storeErrorCodeOf(error) !== 'store_refused_data') {
      stopped = true;
      stoppedBy = error;
      return;
    }
    const [only] = part;
    if (part.length === 1 && only !== undefined) {
      const retry = refuseAlone(only, error);
      if (retry !== undefined) await settle([retry]);
      return;
    }
    if (failedCommits >= maxFailed) {
      // Too many refusals to isolate one by one: refuse the readings left, try their letters bare once.
      const bare: Item[] = [];
      for (const item of part) {
        const retry = refuseAlone(item, error);
        if (retry !== undefined) bare.push(retry);
      }
      await settle(bare);
      return;
    }
    const half = Math.ceil(part.length / 2);
    await settle(part.slice(0, half));
    await settle(part.slice(half));
  };

  await settle(items, firstError);
  return stopped
    ? { fates, signalFates, lettersDropped, tallyDropped, failedCommits, stoppedBy }
    : { fates, signalFates, lettersDropped, tallyDropped, failedCommits };
}

function batchOf(part: readonly Item[], whole: CommitBatch): CommitBatch {
  const readings = [];
  const deadLetters = [];
  const signals: SignalSummaryRow[] = [];
  let refusalCounts: readonly RefusalCount[] | undefined;
  for (const item of part) {
    if (item.kind === 'reading') readings.push(whole.readings[item.index] as CommitBatch['readings'][number]);
    else if (item.kind === 'letter') deadLetters.push(item.letter);
    else if (item.kind === 'signal') signals.push((whole.signals ?? [])[item.index] as SignalSummaryRow);
    else refusalCounts = item.counts;
  }
  return {
    readings,
    deadLetters,
    ...(refusalCounts === undefined ? {} : { refusalCounts }),
    ...(signals.length === 0 ? {} : { signals }),
  };
}

/** A dead letter with nothing but fixed text: its reason, source, time and raw bytes (bytea) kept. */
function bareLetter(letter: DeadLetter): DeadLetter {
  return {
    ...letter,
    peer: 'unknown',
    device: null,
    detail: 'the store refused the text of this dead letter; its raw bytes are kept',
  };
}

/** The store's own message names the failure by SQLSTATE and never carries data values. */
function refusalDetail(error: unknown, what: 'reading' | 'signal summary'): string {
  const why = error instanceof Error ? error.message : 'the store refused it';
  return `the store refused this ${what}: ${why}`.slice(0, 300);
}
