/**
 * The bound on metrics per device: a reading whose numeric fields would give its device more than
 * `maxPerDevice` distinct metric names is refused `too_many_metrics`. One device key once sent 21,000
 * readings with 64 fresh names each; every later series request of that device then built 85 MB answers
 * and took the hub from 165 MB to 3.4 GB.
 *
 * How the hub knows a device's names cheaply: an in-memory set per device, loaded once from the store
 * (`load`: the store's device_metrics table, fed by every rollup fold and seeded from the minute
 * rollups, so it survives restarts) the first time the device sends after start, and grown as readings
 * are admitted. The cache is bounded in names (`maxCachedNames`): the least recently used devices are
 * forgotten and loaded again when they next send. Several hubs on one database each admit within their
 * own view, so together they may exceed the bound by what they admit between two loads.
 * When the store cannot answer a load, readings are admitted unchecked (their commit fails anyway while
 * the store is down) and the device is loaded again next time.
 */
import { forEachNumericMetric } from '@sealstream/protocol';
import type { ReadingRefusal } from './frame-opener.js';
import type { VerifiedReading } from './ports.js';

export const DEFAULT_MAX_METRICS_PER_DEVICE = 256;
/** Names kept in memory at most, over all devices (≈ 100 bytes each). */
export const DEFAULT_MAX_CACHED_METRIC_NAMES = 1_000_000;

export interface MetricBoundOptions {
  readonly maxPerDevice: number;
  /** The device's stored metric names, at most `limit` of them. */
  readonly load: (device: string, limit: number) => Promise<readonly string[]>;
  readonly maxCachedNames?: number;
}

export class MetricBound {
  /** Device → its known names; Map order is recency (a device is moved to the end when used). */
  private readonly known = new Map<string, Set<string>>();
  private readonly loading = new Map<string, Promise<Set<string> | undefined>>();
  private cachedNames = 0;
  private readonly maxCachedNames: number;

  constructor(private readonly options: MetricBoundOptions) {
    if (!Number.isSafeInteger(options.maxPerDevice) || options.maxPerDevice < 1) {
      throw new Error('pipeline: maxPerDevice must be a positive integer');
    }
    this.maxCachedNames = Math.max(options.maxCachedNames ?? DEFAULT_MAX_CACHED_METRIC_NAMES, options.maxPerDevice);
  }

  /** Readings that fit the bound, in order, and refusals for those that do not. */
  async check(
    readings: readonly VerifiedReading[],
  ): Promise<{ admitted: VerifiedReading[]; refused: ReadingRefusal[] }> {
    const sets = new Map<string, Set<string> | undefined>();
    const loads: Array<Promise<void>> = [];
    for (const reading of readings) {
      const { device } = reading;
      if (sets.has(device)) continue;
      const cached = this.known.get(device);
      sets.set(device, cached);
      if (cached === undefined) loads.push(this.loadDevice(device).then((names) => void sets.set(device, names)));
    }
    // Only the first readings of a device after start (or after it was forgotten) wait for the store.
    if (loads.length > 0) await Promise.all(loads);
    const admitted: VerifiedReading[] = [];
    const refused: ReadingRefusal[] = [];
    const { maxPerDevice } = this.options;
    for (const reading of readings) {
      const names = sets.get(reading.device);
      if (names === undefined) {
        admitted.push(reading);
        continue;
      }
      let fresh: string[] | undefined;
      forEachNumericMetric(reading.data, (name) => {
        if (names.has(name)) return;
        fresh ??= [];
        if (!fresh.includes(name)) fresh.push(name);
      });
      if (fresh === undefined) {
        admitted.push(reading);
        continue;
      }
      if (names.size + fresh.length > maxPerDevice) {
        refused.push({
          reason: 'too_many_metrics',
          device: reading.device,
          detail: `device ${reading.device} has ${names.size} metrics; this reading would add ${fresh.length} beyond the bound of ${maxPerDevice}`,
          raw: Buffer.from(
            JSON.stringify({ device: reading.device, seq: reading.seq, ts: reading.ts, data: reading.data }),
          ),
        });
        continue;
      }
      for (const name of fresh) names.add(name);
      // A set forgotten meanwhile (evicted by a concurrent check) no longer counts towards the cache.
      if (this.known.get(reading.device) === names) this.cachedNames += fresh.length;
      admitted.push(reading);
    }
    for (const [device, names] of sets) if (names !== undefined) this.touch(device, names);
    this.evict();
    return { admitted, refused };
  }

  /** Devices and names held in memory now (for tests). */
  get cacheSize(): { devices: number; names: number } {
    return { devices: this.known.size, names: this.cachedNames };
  }

  private loadDevice(device: string): Promise<Set<string> | undefined> {
    let pending = this.loading.get(device);
    if (pending === undefined) {
      pending = this.options.load(device, this.options.maxPerDevice).then(
        (names) => {
          const set = new Set(names);
          // A concurrent check may have loaded and grown it meanwhile: keep that one.
          const current = this.known.get(device);
          if (current !== undefined) return current;
          this.known.set(device, set);
          this.cachedNames += set.size;
          return set;
        },
        () => undefined,
      );
      const settled = pending.finally(() => this.loading.delete(device));
      settled.catch(() => undefined);
      this.loading.set(device, pending);
    }
    return pending;
  }

  private touch(device: string, names: Set<string>): void {
    if (this.known.get(device) !== names) return;
    this.known.delete(device);
    this.known.set(device, names);
  }

  private evict(): void {
    for (const [device, names] of this.known) {
      if (this.cachedNames <= this.maxCachedNames) return;
      this.known.delete(device);
      this.cachedNames -= names.size;
    }
  }
}
