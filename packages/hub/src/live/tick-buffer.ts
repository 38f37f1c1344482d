/**
 * Everything gathered for the live view between two fan-out ticks: the latest reading per device
 * (overview), every reading of each watched device, rejects, and legacy `message:new` payloads.
 * Bounds: each list holds at most its per-tick cap; what does not fit is discarded and counted in the
 * matching `dropped` field (overflow policy: keep the first, count the rest — except the overview, which
 * keeps the latest reading of every device it already holds). O(1) per item; `reset()` empties it all,
 * `resetEdge()` all but the overview (sent once per tick, the rest on the leading edge: live-hub.ts).
 */
import type { LegacyMessageNew, LiveReading, LiveReject } from '@sealstream/protocol';
import type { DeadLetter, VerifiedReading } from '../pipeline/ports.js';

export interface TickCaps {
  /** Readings per room per tick: overview devices, and readings of one watched device. */
  readonly readingsPerRoom: number;
  readonly rejects: number;
  readonly legacyMessages: number;
}

/** A reject's detail is for a human glancing at a dashboard; the full text stays in the dead-letter store. */
const MAX_REJECT_DETAIL_CHARS = 300;

interface OverviewSlot {
  reading: VerifiedReading;
  committedAt: number;
}

export interface DeviceTickBatch {
  readonly readings: LiveReading[];
  dropped: number;
}

export class TickBuffer {
  private readonly overview = new Map<string, OverviewSlot>();
  private readonly deviceBatches = new Map<string, DeviceTickBatch>();
  private rejectList: LiveReject[] = [];
  private legacyList: LegacyMessageNew[] = [];
  overviewDropped = 0;
  rejectsDropped = 0;
  legacyDropped = 0;

  constructor(private readonly caps: TickCaps) {}

  /** Keeps the latest reading per device; a device beyond the cap is counted, not kept. */
  addOverview(reading: VerifiedReading, committedAt: number): void {
    const slot = this.overview.get(reading.device);
    if (slot !== undefined) {
      // Mutating the slot keeps the hot path free of allocations for devices that send often.
      slot.reading = reading;
      slot.committedAt = committedAt;
    } else if (this.overview.size < this.caps.readingsPerRoom) {
      this.overview.set(reading.device, { reading, committedAt });
    } else {
      this.overviewDropped += 1;
    }
  }

  addDeviceReading(reading: VerifiedReading, committedAt: number): void {
    let batch = this.deviceBatches.get(reading.device);
    if (batch === undefined) {
      batch = { readings: [], dropped: 0 };
      this.deviceBatches.set(reading.device, batch);
    }
    if (batch.readings.length < this.caps.readingsPerRoom) batch.readings.push(toLiveReading(reading, committedAt));
    else batch.dropped += 1;
  }

  addReject(letter: DeadLetter): void {
    if (this.rejectList.length >= this.caps.rejects) {
      this.rejectsDropped += 1;
      return;
    }
    this.rejectList.push({
      reason: letter.reason,
      source: letter.source,
      device: letter.device,
      detail:
        letter.detail.length > MAX_REJECT_DETAIL_CHARS
          ? letter.detail.slice(0, MAX_REJECT_DETAIL_CHARS)
          : letter.detail,
      at: letter.receivedAt,
    });
  }

  /** Adds the seed-dashboard payload of a legacy reading; readings without the legacy shape are skipped. */
  addLegacy(reading: VerifiedReading): void {
    if (this.legacyList.length >= this.caps.legacyMessages) {
      this.legacyDropped += 1;
      return;
    }
    const message = toLegacyMessage(reading);
    if (message !== null) this.legacyList.push(message);
  }

  overviewReadings(): LiveReading[] {
    const readings: LiveReading[] = [];
    for (const slot of this.overview.values()) readings.push(toLiveReading(slot.reading, slot.committedAt));
    return readings;
  }

  deviceBatch(device: string): DeviceTickBatch | undefined {
    return this.deviceBatches.get(device);
  }

  get rejects(): readonly LiveReject[] {
    return this.rejectList;
  }

  get legacyMessages(): readonly LegacyMessageNew[] {
    return this.legacyList;
  }

  /** Items held right now; zero after `reset()`. */
  get size(): number {
    let deviceReadings = 0;
    for (const batch of this.deviceBatches.values()) deviceReadings += batch.readings.length;
    return this.overview.size + deviceReadings + this.rejectList.length + this.legacyList.length;
  }

  /** True when anything (kept or counted as dropped) is waiting for the next tick; O(1). */
  get hasData(): boolean {
    return (
      this.overview.size > 0 ||
      this.deviceBatches.size > 0 ||
      this.rejectList.length > 0 ||
      this.legacyList.length > 0 ||
      this.overviewDropped > 0 ||
      this.rejectsDropped > 0 ||
      this.legacyDropped > 0
    );
  }

  /**
   * True when something other than the overview waits: watched devices' readings, rejects, legacy
   * messages (or their drop counts). These are sent on the leading edge; the overview at the tick.
   */
  get hasEdgeData(): boolean {
    return (
      this.deviceBatches.size > 0 ||
      this.rejectList.length > 0 ||
      this.legacyList.length > 0 ||
      this.rejectsDropped > 0 ||
      this.legacyDropped > 0
    );
  }

  /** Empties everything. */
  reset(): void {
    this.overview.clear();
    this.overviewDropped = 0;
    this.resetEdge();
  }

  /** Empties all but the overview: what a leading-edge send took, while the overview waits for its tick. */
  resetEdge(): void {
    this.deviceBatches.clear();
    // Fresh arrays, so a batch already handed out keeps its own list.
    this.rejectList = [];
    this.legacyList = [];
    this.rejectsDropped = 0;
    this.legacyDropped = 0;
  }
}

export function toLiveReading(reading: VerifiedReading, committedAt: number): LiveReading {
  return { device: reading.device, seq: reading.seq, ts: reading.ts, committedAt, data: reading.data };
}

/** The seed dashboard's `message:new` shape, exactly four fields; null when the reading lacks it. */
export function toLegacyMessage(reading: VerifiedReading): LegacyMessageNew | null {
  const { name, origin, destination } = reading.data;
  if (typeof name !== 'string' || typeof origin !== 'string' || typeof destination !== 'string') return null;
  // toISOString throws on an invalid date; a live sink must not.
  if (!Number.isFinite(reading.receivedAt)) return null;
  const receivedAt = new Date(reading.receivedAt);
  if (Number.isNaN(receivedAt.getTime())) return null;
  return { name, origin, destination, receivedAt: receivedAt.toISOString() };
}
