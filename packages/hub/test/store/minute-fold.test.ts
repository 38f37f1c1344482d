/**
 * foldMinutes (the commit path's fold) must give exactly what the reference aggregateMinutes gives:
 * same buckets, same metric deltas, same order, for batches mixing devices, minutes, metric shapes,
 * non-numeric values and dead letters with and without a device.
 */
import { describe, expect, it } from 'vitest';
import type { DeadLetter, VerifiedReading } from '../../src/pipeline/ports.js';
import { aggregateMinutes } from '../../src/store/minute-aggregates.js';
import { foldMinutes } from '../../src/store/minute-fold.js';

/** Small deterministic PRNG so a failure can be replayed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function batch(seed: number, size: number): { readings: VerifiedReading[]; deadLetters: DeadLetter[] } {
  const random = prng(seed);
  const base = Date.UTC(2026, 10, 23, 10, 0, 0);
  const readings: VerifiedReading[] = [];
  for (let i = 0; i < size; i += 1) {
    const device = `dev-${Math.floor(random() * 7)}`;
    const ts = base + Math.floor(random() * 5 * 60_000);
    const data: Record<string, unknown> = {};
    if (random() < 0.8) data['temperature'] = Math.round(random() * 400 - 200) / 10;
    if (random() < 0.5) data['humidity'] = Math.floor(random() * 100);
    if (random() < 0.2) data['label'] = 'text';
    if (random() < 0.1) data['zero'] = random() < 0.5 ? 0 : -0;
    if (random() < 0.1) data['nested'] = { a: 1 };
    readings.push({ device, seq: i, ts, data, source: 'tcp', receivedAt: ts + 3 });
  }
  const deadLetters: DeadLetter[] = Array.from({ length: Math.floor(size / 10) }, (_, i) => ({
    reason: 'integrity_failed',
    source: 'tcp',
    peer: '127.0.0.1:1',
    device: i % 3 === 0 ? null : `dev-${i % 5}`,
    detail: 'x',
    raw: new Uint8Array(0),
    truncated: false,
    receivedAt: base + i * 20_000,
  }));
  return { readings, deadLetters };
}

describe('foldMinutes', () => {
  it.each([1, 2, 3, 4, 5])('equals aggregateMinutes on a mixed batch (seed %i)', (seed) => {
    const { readings, deadLetters } = batch(seed, 2_000);
    expect(foldMinutes(readings, deadLetters)).toEqual(aggregateMinutes(readings, deadLetters));
  });

  it('equals aggregateMinutes on an empty batch and on dead letters alone', () => {
    expect(foldMinutes([], [])).toEqual(aggregateMinutes([], []));
    const { deadLetters } = batch(9, 100);
    expect(foldMinutes([], deadLetters)).toEqual(aggregateMinutes([], deadLetters));
  });

  it('counts refusals that were not kept (over the dead-letter budget) like dead letters, by their count', () => {
    const { readings, deadLetters } = batch(11, 300);
    const base = Date.UTC(2026, 10, 23, 10, 0, 0);
    const refusalCounts = [
      { device: null, reason: 'integrity_failed' as const, receivedAt: base + 5, count: 40 },
      { device: 'dev-1', reason: 'schema_invalid' as const, receivedAt: base + 61_000, count: 3 },
      { device: 'dev-1', reason: 'integrity_failed' as const, receivedAt: base + 62_000, count: 2 },
    ];
    const fold = foldMinutes(readings, deadLetters, refusalCounts);
    expect(fold).toEqual(aggregateMinutes(readings, deadLetters, refusalCounts));
    const withoutCounts = foldMinutes(readings, deadLetters);
    const invalid = (d: typeof fold): number => d.buckets.reduce((n, b) => n + b.invalid, 0);
    expect(invalid(fold) - invalid(withoutCounts)).toBe(45);
    const rejected = (d: typeof fold): number => d.rejects.reduce((n, r) => n + r.count, 0);
    expect(rejected(fold) - rejected(withoutCounts)).toBe(45);
  });

  it('keeps the sign of a zero minimum exactly as the reference does', () => {
    const base = Date.UTC(2026, 0, 1);
    const readings: VerifiedReading[] = [0, -0, 0].map((zero, seq) => ({
      device: 'z',
      seq,
      ts: base,
      data: { v: zero },
      source: 'tcp',
      receivedAt: base,
    }));
    const fold = foldMinutes(readings, []);
    expect(Object.is(fold.metrics[0]?.min, aggregateMinutes(readings, []).metrics[0]?.min)).toBe(true);
  });
});

describe('refusals in the rollups', () => {
  it('count under their device only when a key allowed for it sealed them; else under the unknown device', () => {
    const at = Date.UTC(2026, 10, 23, 10, 0, 5);
    const letter = (reason: DeadLetter['reason'], device: string | null): DeadLetter => ({
      reason,
      source: 'http',
      peer: '127.0.0.1:1',
      device,
      detail: '',
      raw: new Uint8Array(0),
      truncated: false,
      receivedAt: at,
    });
    // Forged requests naming a victim (an outside checker raised a real device's error count this way,
    // and added devices to the listing with made-up ids) against a proven refusal of the victim.
    const letters = [
      letter('bad_signature', 'victim'),
      letter('unknown_device', 'made-up-1'),
      letter('device_not_allowed', 'victim'),
      letter('schema_invalid', 'victim'),
      letter('timestamp_out_of_range', 'victim'),
    ];
    for (const deltas of [foldMinutes([], letters), aggregateMinutes([], letters)]) {
      expect(deltas.buckets.map((b) => [b.device, b.invalid])).toEqual([
        ['', 4],
        ['victim', 1],
      ]);
      expect(deltas.rejects.filter((r) => r.device === 'victim').map((r) => r.reason)).toEqual([
        'timestamp_out_of_range',
      ]);
    }
  });
});
