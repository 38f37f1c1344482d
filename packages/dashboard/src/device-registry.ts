/**
 * The devices seen in overview batches: latest reading per device and a short trend of its first
 * numeric metric. Bounded twice: at most `maxDevices` devices (the least recently seen is evicted)
 * and `trendPoints` trend points per device (oldest overwritten). Row views are rebuilt only for
 * devices that changed, so unchanged table rows keep their identity and skip re-rendering.
 * A trend is a time series drawn left to right, so only a reading newer (device time, then seq) than
 * its newest point extends it; after an outage the readings the API returns for the gap are merged
 * in (`backfillTrend`), so the sparkline shows the gap filled rather than joined across.
 */
import type { LiveReading } from './contract.js';
import { RingBuffer } from './ring-buffer.js';

export interface DeviceRowView {
  readonly id: string;
  readonly seq: number;
  /** Device creation time of the latest reading, ms since epoch. */
  readonly ts: number;
  /** When this dashboard last received a reading of the device, ms since epoch. */
  readonly lastSeenAt: number;
  /** Numeric fields of the latest reading, in the order the device sent them. */
  readonly metrics: ReadonlyArray<readonly [name: string, value: number]>;
  /**
   * Text fields of the latest reading (the seed's name / origin / destination), shown when it has no
   * numeric ones, so a legacy device's row says what it sent rather than "no numeric fields".
   */
  readonly texts: ReadonlyArray<readonly [name: string, value: string]>;
  /** The metric the trend follows: the first numeric field of the first reading seen. */
  readonly trendMetric: string | null;
  /** Trend values, oldest first. */
  readonly trend: readonly number[];
}

export interface DeviceRegistryOptions {
  readonly maxDevices?: number;
  readonly trendPoints?: number;
}

/** One trend point: the value, and the reading it came from (for ordering and de-duplication). */
interface TrendPoint {
  readonly seq: number;
  readonly ts: number;
  readonly value: number;
}

const newer = (a: { ts: number; seq: number }, b: { ts: number; seq: number }): boolean =>
  a.ts > b.ts || (a.ts === b.ts && a.seq > b.seq);

interface DeviceEntry {
  readonly id: string;
  seq: number;
  ts: number;
  lastSeenAt: number;
  metrics: Array<readonly [string, number]>;
  texts: Array<readonly [string, string]>;
  trendMetric: string | null;
  readonly trend: RingBuffer<TrendPoint>;
  /** Cached view; null when the entry changed since the last `rows()`. */
  view: DeviceRowView | null;
}

const byDeviceId = new Intl.Collator('en', { numeric: true }).compare;

export function numericMetrics(data: Readonly<Record<string, unknown>>): Array<readonly [string, number]> {
  const metrics: Array<readonly [string, number]> = [];
  for (const [name, value] of Object.entries(data)) {
    if (typeof value === 'number' && Number.isFinite(value)) metrics.push([name, value]);
  }
  return metrics;
}

/** String fields of a reading, at most `max`, in the order the device sent them. */
export function textFields(data: Readonly<Record<string, unknown>>, max = 3): Array<readonly [string, string]> {
  const texts: Array<readonly [string, string]> = [];
  for (const [name, value] of Object.entries(data)) {
    if (texts.length >= max) break;
    if (typeof value === 'string') texts.push([name, value]);
  }
  return texts;
}

export class DeviceRegistry {
  readonly maxDevices: number;
  readonly trendPoints: number;
  /** Map iteration order is least recently seen first: every update re-inserts the entry. */
  private readonly entries = new Map<string, DeviceEntry>();
  private cachedRows: readonly DeviceRowView[] = [];
  private changed = false;
  private evictedCount = 0;

  constructor(options: DeviceRegistryOptions = {}) {
    this.maxDevices = options.maxDevices ?? 500;
    this.trendPoints = options.trendPoints ?? 60;
    if (!Number.isInteger(this.maxDevices) || this.maxDevices < 1) throw new RangeError('maxDevices must be >= 1');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Devices dropped because more than `maxDevices` were seen. */
  get evicted(): number {
    return this.evictedCount;
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  record(reading: LiveReading, seenAt: number): void {
    let entry = this.entries.get(reading.device);
    if (entry === undefined) {
      entry = {
        id: reading.device,
        seq: reading.seq,
        ts: reading.ts,
        lastSeenAt: seenAt,
        metrics: [],
        texts: [],
        trendMetric: null,
        trend: new RingBuffer<TrendPoint>(this.trendPoints),
        view: null,
      };
    } else {
      this.entries.delete(reading.device);
      // The overview repeats a device's latest reading on later ticks; that is no new trend point.
      if (entry.seq === reading.seq && entry.ts === reading.ts) {
        entry.lastSeenAt = seenAt;
        entry.view = null;
        this.entries.set(entry.id, entry);
        this.changed = true;
        return;
      }
    }
    entry.seq = reading.seq;
    entry.ts = reading.ts;
    entry.lastSeenAt = seenAt;
    entry.metrics = numericMetrics(reading.data);
    entry.texts = entry.metrics.length === 0 ? textFields(reading.data) : [];
    if (entry.trendMetric === null) entry.trendMetric = entry.metrics[0]?.[0] ?? null;
    const trendValue = entry.metrics.find(([name]) => name === entry.trendMetric)?.[1];
    const newest = entry.trend.newest();
    // A late or repeated delivery (e.g. while the live link changes sockets) would draw out of order.
    if (trendValue !== undefined && (newest === undefined || newer(reading, newest))) {
      entry.trend.push({ seq: reading.seq, ts: reading.ts, value: trendValue });
    }
    entry.view = null;
    this.entries.set(entry.id, entry);
    this.changed = true;
    this.evictOverflow();
  }

  /**
   * Readings of a known device recovered from the API after an outage: their trend values merged with
   * the points already held (one per seq, in device-time order, the newest `trendPoints` kept), and the
   * latest reading moved forward if one of them is newer. Returns how many trend points were added;
   * an unknown (or evicted) device is left alone.
   */
  backfillTrend(device: string, readings: readonly LiveReading[]): number {
    const entry = this.entries.get(device);
    if (entry === undefined || readings.length === 0) return 0;
    let latest: LiveReading | undefined;
    for (const reading of readings) if (latest === undefined || newer(reading, latest)) latest = reading;
    if (latest !== undefined && newer(latest, entry)) {
      entry.seq = latest.seq;
      entry.ts = latest.ts;
      entry.metrics = numericMetrics(latest.data);
      entry.texts = entry.metrics.length === 0 ? textFields(latest.data) : [];
    }
    entry.trendMetric ??= numericMetrics(readings[0]?.data ?? {})[0]?.[0] ?? null;
    const metric = entry.trendMetric;
    const bySeq = new Map<number, TrendPoint>();
    for (const point of entry.trend.toArray()) bySeq.set(point.seq, point);
    const before = bySeq.size;
    for (const reading of readings) {
      const value = metric === null ? undefined : reading.data[metric];
      if (typeof value !== 'number' || !Number.isFinite(value) || bySeq.has(reading.seq)) continue;
      bySeq.set(reading.seq, { seq: reading.seq, ts: reading.ts, value });
    }
    const added = bySeq.size - before;
    if (added === 0 && latest === undefined) return 0;
    const merged = [...bySeq.values()].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    entry.trend.clear();
    entry.trend.pushAll(merged.slice(Math.max(0, merged.length - this.trendPoints)));
    entry.view = null;
    this.changed = true;
    return added;
  }

  /**
   * Where a back-fill of `device`'s trend should start reading: the outage start, or later when the
   * device sends so often that only the last stretch of the gap can still be on its sparkline (its
   * pace is estimated from the points it has; twice the trend's span is read, to be safe).
   */
  trendWindowStart(device: string, outageFrom: number, until: number): number {
    const points = this.entries.get(device)?.trend.toArray() ?? [];
    const first = points[0];
    const last = points[points.length - 1];
    if (first === undefined || last === undefined || points.length < 2 || last.ts <= first.ts) return outageFrom;
    const perPoint = (last.ts - first.ts) / (points.length - 1);
    return Math.max(outageFrom, until - 2 * perPoint * this.trendPoints);
  }

  clear(): void {
    this.entries.clear();
    this.cachedRows = [];
    this.changed = false;
  }

  /** All devices sorted by id (numeric-aware: dev-2 before dev-10). Same array until something changes. */
  rows(): readonly DeviceRowView[] {
    if (!this.changed) return this.cachedRows;
    const rows: DeviceRowView[] = [];
    for (const entry of this.entries.values()) {
      entry.view ??= {
        id: entry.id,
        seq: entry.seq,
        ts: entry.ts,
        lastSeenAt: entry.lastSeenAt,
        metrics: entry.metrics,
        texts: entry.texts,
        trendMetric: entry.trendMetric,
        trend: entry.trend.toArray().map((point) => point.value),
      };
      rows.push(entry.view);
    }
    rows.sort((a, b) => byDeviceId(a.id, b.id));
    this.cachedRows = rows;
    this.changed = false;
    return rows;
  }

  private evictOverflow(): void {
    while (this.entries.size > this.maxDevices) {
      const leastRecent = this.entries.keys().next();
      if (leastRecent.done === true) return;
      this.entries.delete(leastRecent.value);
      this.evictedCount += 1;
    }
  }
}
