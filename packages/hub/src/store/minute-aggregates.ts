/**
 * Folds a batch into per-minute deltas: valid/invalid counts per (device, minute), min/max/sum/count
 * per (device, minute, metric) and refusals per (device, minute, reason): dead letters, and the counts of
 * refusals over the dead-letter budget that were not kept. Readings count in the minute of their device time; dead letters in the
 * minute they were received (they may have no trustworthy device time). Dead letters without a proven
 * device count under device '' (UNKNOWN_DEVICE, see rollupDeviceOf), so totals stay a sum over buckets. Deltas come out sorted by
 * key so concurrent upserts lock rows in the same order and cannot deadlock each other.
 */
import { numericMetrics } from '@sealstream/protocol';
import type { DeadLetter, RefusalCount, VerifiedReading } from '../pipeline/ports.js';
import { storableText } from './sql-values.js';

export const MINUTE_MS = 60_000;
/** Bucket device for dead letters whose device is unknown; real device ids are never empty. */
export const UNKNOWN_DEVICE = '';

/**
 * Refusals decided after a key allowed to speak for the reading's device sealed it (FrameOpener checks
 * schema, then the device, then the time): only these are counted under their device. Any other refusal
 * names a device nobody proved (an unsigned HTTP request's x-device-id, a reading a key may not send),
 * and counting it there would let anyone add devices to the listings or inflate a real device's error
 * counts; it counts under UNKNOWN_DEVICE, while its dead letter keeps the claimed id for a diagnosis.
 */
const REASONS_OF_A_PROVEN_DEVICE: ReadonlySet<string> = new Set(['timestamp_out_of_range']);

/** The device a refusal is counted under in the rollups. */
export function rollupDeviceOf(refusal: { readonly device: string | null; readonly reason: string }): string {
  return refusal.device !== null && REASONS_OF_A_PROVEN_DEVICE.has(refusal.reason)
    ? storableText(refusal.device)
    : UNKNOWN_DEVICE;
}

export interface BucketDelta {
  readonly device: string;
  readonly minuteMs: number;
  valid: number;
  invalid: number;
}

export interface MetricDelta {
  readonly device: string;
  readonly minuteMs: number;
  readonly metric: string;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/** Refusals of one reason in one (device, minute): what keeps per-reason counts across restarts. */
export interface RejectDelta {
  readonly device: string;
  readonly minuteMs: number;
  readonly reason: string;
  count: number;
}

export interface MinuteDeltas {
  readonly buckets: BucketDelta[];
  readonly metrics: MetricDelta[];
  readonly rejects: RejectDelta[];
}

export function minuteOf(ms: number): number {
  return Math.floor(ms / MINUTE_MS) * MINUTE_MS;
}

function compareKeys(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as string | number;
    const y = b[i] as string | number;
    if (x < y) return -1;
    if (x > y) return 1;
  }
  return 0;
}

export function aggregateMinutes(
  readings: readonly VerifiedReading[],
  deadLetters: readonly DeadLetter[],
  refusalCounts: readonly RefusalCount[] = [],
): MinuteDeltas {
  const buckets = new Map<string, BucketDelta>();
  const metrics = new Map<string, MetricDelta>();

  const bucketFor = (device: string, minuteMs: number): BucketDelta => {
    const key = `${device}\u0000${minuteMs}`;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = { device, minuteMs, valid: 0, invalid: 0 };
      buckets.set(key, bucket);
    }
    return bucket;
  };

  for (const reading of readings) {
    const minuteMs = minuteOf(reading.ts);
    bucketFor(reading.device, minuteMs).valid += 1;
    for (const [metric, value] of numericMetrics(reading.data)) {
      const key = `${reading.device}\u0000${minuteMs}\u0000${metric}`;
      const existing = metrics.get(key);
      if (existing === undefined) {
        metrics.set(key, { device: reading.device, minuteMs, metric, min: value, max: value, sum: value, count: 1 });
      } else {
        existing.min = Math.min(existing.min, value);
        existing.max = Math.max(existing.max, value);
        existing.sum += value;
        existing.count += 1;
      }
    }
  }
  const rejects = new Map<string, RejectDelta>();
  const refusals = [
    ...deadLetters.map((letter) => ({ ...letter, count: 1 })),
    ...refusalCounts.map((tally) => ({ ...tally })),
  ];
  for (const refusal of refusals) {
    const device = rollupDeviceOf(refusal);
    const minuteMs = minuteOf(refusal.receivedAt);
    bucketFor(device, minuteMs).invalid += refusal.count;
    const key = `${device}\u0000${minuteMs}\u0000${refusal.reason}`;
    const existing = rejects.get(key);
    if (existing === undefined) rejects.set(key, { device, minuteMs, reason: refusal.reason, count: refusal.count });
    else existing.count += refusal.count;
  }

  return {
    buckets: [...buckets.values()].sort((a, b) => compareKeys([a.device, a.minuteMs], [b.device, b.minuteMs])),
    metrics: [...metrics.values()].sort((a, b) =>
      compareKeys([a.device, a.minuteMs, a.metric], [b.device, b.minuteMs, b.metric]),
    ),
    rejects: [...rejects.values()].sort((a, b) =>
      compareKeys([a.device, a.minuteMs, a.reason], [b.device, b.minuteMs, b.reason]),
    ),
  };
}
