/**
 * Which bus partition a device belongs to, and the split of one batch into per-partition parts.
 * Every reading of a device goes to the same partition queue, so one writer commits a device's
 * readings in order and two writers never race on the same (device, seq). FNV-1a is stable across
 * processes and versions (unlike a seeded hash), which the routing depends on.
 */
import type { CommitBatch, DeadLetter, RefusalCount, SignalSummaryRow, VerifiedReading } from '../pipeline/ports.js';

export function partitionOf(device: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < device.length; i += 1) {
    hash ^= device.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % partitions;
}

/** One partition's share of a batch; `indexes[k]` is the position of `batch.readings[k]` in the whole. */
export interface BatchPart {
  readonly partition: number;
  readonly batch: CommitBatch;
  readonly indexes: readonly number[];
}

/**
 * Splits by device. Dead letters and refusal counts without a device ride with partition 0 (they are
 * not ordered against anything).
 */
export function splitByPartition(batch: CommitBatch, partitions: number): BatchPart[] {
  const parts = new Map<
    number,
    {
      readings: VerifiedReading[];
      indexes: number[];
      letters: DeadLetter[];
      counts: RefusalCount[];
      signals: SignalSummaryRow[];
    }
  >();
  const part = (partition: number) => {
    let entry = parts.get(partition);
    if (entry === undefined) {
      entry = { readings: [], indexes: [], letters: [], counts: [], signals: [] };
      parts.set(partition, entry);
    }
    return entry;
  };
  batch.readings.forEach((reading, index) => {
    const entry = part(partitionOf(reading.device, partitions));
    entry.readings.push(reading);
    entry.indexes.push(index);
  });
  for (const letter of batch.deadLetters)
    part(letter.device === null ? 0 : partitionOf(letter.device, partitions)).letters.push(letter);
  for (const count of batch.refusalCounts ?? [])
    part(count.device === null ? 0 : partitionOf(count.device, partitions)).counts.push(count);
  // A signal's summary goes with its device's readings: one writer commits both in one transaction.
  for (const signal of batch.signals ?? []) part(partitionOf(signal.deviceId, partitions)).signals.push(signal);
  return [...parts].map(([partition, entry]) => ({
    partition,
    indexes: entry.indexes,
    batch: {
      readings: entry.readings,
      deadLetters: entry.letters,
      ...(entry.counts.length === 0 ? {} : { refusalCounts: entry.counts }),
      ...(entry.signals.length === 0 ? {} : { signals: entry.signals }),
    },
  }));
}
