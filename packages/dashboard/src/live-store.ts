/**
 * Everything the page shows, accumulated outside React. Socket handlers write here at any rate;
 * the render pump calls `view()` a few times per second and gets a new immutable snapshot only when
 * something changed (unchanged sections keep their identity, so memoised components skip work).
 * Every collection is bounded: stats history 600 points / 5 minutes, devices 500 x 60 trend points,
 * followed-device readings 200, rejects 200 — each overwriting or evicting the oldest.
 * After an outage the readings of the followed device are back-filled from the API and merged in,
 * as are the devices' sparkline trends, and the rates chart shows the outage as a gap rather than a
 * line drawn across it. A reading delivered twice (the live link overlaps two sockets while it moves
 * to a renewed token) is kept once: followed readings by seq, trends by order, rejects by identity.
 */
import type { LiveReading, LiveReadingBatch, LiveRejectBatch, LiveStats, DeadLetterItem } from './contract.js';
import { OVERVIEW } from './contract.js';
import type { DeviceRowView } from './device-registry.js';
import { DeviceRegistry } from './device-registry.js';
import type { RejectEntry } from './rejects-log.js';
import { RejectsLog } from './rejects-log.js';
import { mergeReadings } from './merge-readings.js';
import { RingBuffer } from './ring-buffer.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

export interface ConnectionInfo {
  readonly state: ConnectionState;
  /** When the current state began, ms since epoch. */
  readonly since: number;
  /** Reconnection attempt number while reconnecting, else 0. */
  readonly attempt: number;
  readonly lastError: string | null;
}

/** uPlot-ready columns: x in seconds since epoch, then readings/s and rejects/s (null: a gap). */
export interface RateSeries {
  readonly times: readonly number[];
  readonly readingsPerSec: ReadonlyArray<number | null>;
  readonly rejectsPerSec: ReadonlyArray<number | null>;
}

/** The last time the live link was down and what was recovered over REST afterwards. */
export interface OutageView {
  /** When the link went down and came back, ms since epoch. */
  readonly from: number;
  readonly to: number;
  /** null while the back-fill is running. */
  readonly backfill: {
    readonly readings: number;
    readonly rejects: number;
    /** Device whose readings were back-filled, if one was followed. */
    readonly device: string | null;
    /** Devices whose sparklines got points back from the API. */
    readonly sparklines: number;
    readonly error: string | null;
  } | null;
}

export interface FollowedDeviceView {
  readonly device: string;
  /** Newest first. */
  readonly readings: readonly LiveReading[];
  readonly capacity: number;
  /** Readings the hub dropped for this client on the device room (slow-client cap). */
  readonly dropped: number;
}

export interface LoadErrors {
  readonly stats: string | null;
  readonly deadLetters: string | null;
}

export interface LiveView {
  readonly connection: ConnectionInfo;
  readonly stats: LiveStats | null;
  /** Local time the current stats arrived, to tell a live feed from a stalled one. */
  readonly statsReceivedAt: number | null;
  readonly rates: RateSeries;
  readonly devices: readonly DeviceRowView[];
  readonly devicesEvicted: number;
  readonly overviewDropped: number;
  readonly followed: FollowedDeviceView | null;
  readonly rejects: readonly RejectEntry[];
  readonly rejectsDropped: number;
  readonly loadErrors: LoadErrors;
  readonly lastOutage: OutageView | null;
}

/** Live stats arrive several times a second; a longer silence is drawn as a gap in the chart. */
export const STATS_GAP_MS = 5000;

export const STATS_HISTORY_POINTS = 600;
export const STATS_HISTORY_WINDOW_MS = 5 * 60_000;
export const FOLLOWED_READINGS = 200;

/** One past rate sample, as GET /api/v1/stats/rates answers it. */
export interface RateSample {
  readonly at: number;
  readonly readingsPerSec: number;
  readonly rejectsPerSec: number;
}

interface RatePoint {
  readonly at: number;
  readonly readingsPerSec: number | null;
  readonly rejectsPerSec: number | null;
}

const EMPTY_RATES: RateSeries = { times: [], readingsPerSec: [], rejectsPerSec: [] };

export class LiveStore {
  private connection: ConnectionInfo;
  private stats: LiveStats | null = null;
  private statsReceivedAt: number | null = null;
  private readonly rateHistory = new RingBuffer<RatePoint>(STATS_HISTORY_POINTS);
  private rates: RateSeries = EMPTY_RATES;
  private ratesDirty = false;
  readonly devices: DeviceRegistry;
  private overviewDropped = 0;
  private followedDevice: string | null = null;
  private readonly followedReadings = new RingBuffer<LiveReading>(FOLLOWED_READINGS);
  /** Seqs in followedReadings, kept in step with it, to drop a reading delivered twice. */
  private readonly followedSeqs = new Set<number>();
  private followedDropped = 0;
  private followed: FollowedDeviceView | null = null;
  private followedDirty = false;
  private readonly rejectsLog = new RejectsLog(200);
  private rejectsDropped = 0;
  private loadErrors: LoadErrors = { stats: null, deadLetters: null };
  private lastOutage: OutageView | null = null;
  private current: LiveView;
  private changed = false;

  constructor(now: number = Date.now(), devices: DeviceRegistry = new DeviceRegistry()) {
    this.devices = devices;
    this.connection = { state: 'connecting', since: now, attempt: 0, lastError: null };
    this.current = this.build();
  }

  setConnection(info: ConnectionInfo): void {
    this.connection = info;
    this.changed = true;
  }

  /**
   * Totals from a `stats` event or from GET /api/v1/stats. A snapshot older than the one shown is
   * ignored, so a slow REST answer cannot roll the counters back past a newer live event.
   */
  applyStats(stats: LiveStats, receivedAt: number, fromLive: boolean): void {
    if (this.stats !== null && stats.at < this.stats.at) return;
    this.stats = stats;
    this.statsReceivedAt = receivedAt;
    this.changed = true;
    if (!fromLive) return;
    const newest = this.rateHistory.newest();
    if (newest !== undefined && stats.at <= newest.at) return;
    if (newest !== undefined && stats.at - newest.at > STATS_GAP_MS) {
      this.rateHistory.push({ at: newest.at + 1, readingsPerSec: null, rejectsPerSec: null });
    }
    this.rateHistory.push({ at: stats.at, readingsPerSec: stats.readingsPerSec, rejectsPerSec: stats.rejectsPerSec });
    this.rateHistory.dropOldestWhile((point) => point.at < stats.at - STATS_HISTORY_WINDOW_MS);
    this.ratesDirty = true;
  }

  /**
   * Past rates from GET /api/v1/stats/rates (one point a second), so the chart is not empty on load and
   * an outage the hub itself stayed up through is filled in. Live points win where both exist; gaps
   * longer than STATS_GAP_MS stay gaps. Returns how many points were added.
   */
  backfillRates(points: readonly RateSample[]): number {
    const held = this.rateHistory.toArray().filter((point) => point.readingsPerSec !== null);
    const taken = (at: number): boolean => held.some((point) => Math.abs(point.at - at) < 1000);
    const added = points.filter((point) => !taken(point.at));
    if (added.length === 0) return 0;
    const merged = [...held, ...added].sort((a, b) => a.at - b.at);
    const newest = merged.at(-1)?.at ?? 0;
    this.rateHistory.clear();
    let previous: RatePoint | undefined;
    for (const point of merged) {
      if (point.at < newest - STATS_HISTORY_WINDOW_MS) continue;
      if (previous !== undefined && point.at - previous.at > STATS_GAP_MS) {
        this.rateHistory.push({ at: previous.at + 1, readingsPerSec: null, rejectsPerSec: null });
      }
      this.rateHistory.push(point);
      previous = point;
    }
    this.ratesDirty = true;
    this.changed = true;
    return added.length;
  }

  applyReadings(batch: LiveReadingBatch, receivedAt: number): void {
    if (batch.room === OVERVIEW) {
      for (const reading of batch.readings) this.devices.record(reading, receivedAt);
      this.overviewDropped += batch.dropped;
      this.changed = true;
      return;
    }
    // Any other room is a device room; keep only the followed device (a late batch of the
    // previously followed one may still arrive after switching).
    if (this.followedDevice === null) return;
    let matched = false;
    for (const reading of batch.readings) {
      if (reading.device !== this.followedDevice || this.followedSeqs.has(reading.seq)) continue;
      const full = this.followedReadings.size === this.followedReadings.capacity;
      const overwritten = full ? this.followedReadings.oldest() : undefined;
      if (overwritten !== undefined) this.followedSeqs.delete(overwritten.seq);
      this.followedReadings.push(reading);
      this.followedSeqs.add(reading.seq);
      matched = true;
    }
    if (matched || batch.readings.length === 0) this.followedDropped += batch.dropped;
    if (matched || batch.dropped > 0) {
      this.followedDirty = true;
      this.changed = true;
    }
  }

  applyRejects(batch: LiveRejectBatch): void {
    this.rejectsLog.addLive(batch.rejects);
    this.rejectsDropped += batch.dropped;
    this.changed = true;
  }

  applyDeadLetters(items: readonly DeadLetterItem[]): void {
    this.rejectsLog.addDeadLetters(items);
    this.changed = true;
  }

  /** Readings of `device` recovered from the API after an outage; merged if it is still followed. */
  backfillFollowed(device: string, readings: readonly LiveReading[]): number {
    if (device !== this.followedDevice || readings.length === 0) return 0;
    const before = this.followedReadings.size;
    const merged = mergeReadings(this.followedReadings.toArray(), readings, this.followedReadings.capacity);
    this.followedReadings.clear();
    this.followedReadings.pushAll(merged);
    this.followedSeqs.clear();
    for (const reading of merged) this.followedSeqs.add(reading.seq);
    this.followedDirty = true;
    this.changed = true;
    return Math.max(0, merged.length - before);
  }

  /** Readings of `device` recovered from the API after an outage, merged into its sparkline trend. */
  backfillTrend(device: string, readings: readonly LiveReading[]): number {
    const added = this.devices.backfillTrend(device, readings);
    this.changed = true;
    return added;
  }

  setOutage(outage: OutageView): void {
    this.lastOutage = outage;
    this.changed = true;
  }

  setLoadError(what: keyof LoadErrors, message: string | null): void {
    if (this.loadErrors[what] === message) return;
    this.loadErrors = { ...this.loadErrors, [what]: message };
    this.changed = true;
  }

  /** Start following one device (or none): its readings buffer starts empty. */
  follow(device: string | null): void {
    if (device === this.followedDevice) return;
    this.followedDevice = device;
    this.followedReadings.clear();
    this.followedSeqs.clear();
    this.followedDropped = 0;
    this.followedDirty = true;
    this.changed = true;
  }

  get followedDeviceId(): string | null {
    return this.followedDevice;
  }

  /** The current snapshot; a new object only if something changed since the last call. */
  view(): LiveView {
    if (this.changed) {
      this.current = this.build();
      this.changed = false;
    }
    return this.current;
  }

  private build(): LiveView {
    if (this.ratesDirty) {
      const points = this.rateHistory.toArray();
      this.rates = {
        times: points.map((point) => point.at / 1000),
        readingsPerSec: points.map((point) => point.readingsPerSec),
        rejectsPerSec: points.map((point) => point.rejectsPerSec),
      };
      this.ratesDirty = false;
    }
    if (this.followedDirty) {
      this.followed =
        this.followedDevice === null
          ? null
          : {
              device: this.followedDevice,
              readings: this.followedReadings.toArrayNewestFirst(),
              capacity: this.followedReadings.capacity,
              dropped: this.followedDropped,
            };
      this.followedDirty = false;
    }
    return {
      connection: this.connection,
      stats: this.stats,
      statsReceivedAt: this.statsReceivedAt,
      rates: this.rates,
      devices: this.devices.rows(),
      devicesEvicted: this.devices.evicted,
      overviewDropped: this.overviewDropped,
      followed: this.followed,
      rejects: this.rejectsLog.entries(),
      rejectsDropped: this.rejectsDropped,
      loadErrors: this.loadErrors,
      lastOutage: this.lastOutage,
    };
  }
}
