/**
 * Merging readings back-filled from the API with those the live feed delivered: one copy per
 * (device, seq), ordered by device time then seq, only the newest `capacity` kept. Used after an
 * outage, when the API's copy of the gap and the first live readings after the reconnect overlap.
 */
import type { LiveReading } from './contract.js';

export function mergeReadings(
  current: readonly LiveReading[],
  incoming: readonly LiveReading[],
  capacity: number,
): LiveReading[] {
  const byKey = new Map<string, LiveReading>();
  for (const reading of current) byKey.set(`${reading.device}\u0000${reading.seq}`, reading);
  for (const reading of incoming) {
    const key = `${reading.device}\u0000${reading.seq}`;
    // The live copy already shown wins: same reading, and its commit time is the hub's own.
    if (!byKey.has(key)) byKey.set(key, reading);
  }
  const merged = [...byKey.values()].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  return merged.length > capacity ? merged.slice(merged.length - capacity) : merged;
}
