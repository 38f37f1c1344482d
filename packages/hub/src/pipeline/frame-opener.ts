/**
 * Turns one decoded DATA frame into verified readings and refusals: key lookup, revocation, clock
 * skew, IV replay, decryption and integrity, payload shape, then per-reading schema, device
 * authorisation, timestamp range and the committed-duplicate window. Pure of I/O.
 */
import { openDataFrame, validateReading, type DataFrame, type ReasonCode } from '@sealstream/protocol';
import type { IvReplayWindow } from './iv-replay-window.js';
import type { KeyEntry, KeyResolver } from './keyring.js';
import type { SourceKind, VerifiedReading } from './ports.js';
import type { SeqWindow } from './seq-window.js';

export interface FrameOpenerOptions {
  readonly keys: KeyResolver;
  readonly ivWindow: IvReplayWindow;
  readonly seqWindow: SeqWindow;
  readonly maxClockSkewMs: number;
  readonly maxReadingAgeMs: number;
  readonly maxReadingFutureMs: number;
  readonly maxReadingsPerFrame: number;
  readonly now?: () => number;
}

export interface ReadingRefusal {
  readonly reason: ReasonCode;
  readonly device: string | null;
  readonly detail: string;
  /** The offending reading re-encoded as JSON, for the dead-letter store. */
  readonly raw: Uint8Array;
}

/**
 * A candidate its door already refused in the client's own terms (a field named as that client sends
 * it, not as the reading schema calls it). It stays in line with the other candidates so it is counted,
 * dead-lettered and answered exactly like a schema refusal, one reading alone.
 */
export class RefusedCandidate {
  constructor(
    readonly reason: ReasonCode,
    readonly detail: string,
    readonly device: string | null,
    /** The item as the client sent it, for the dead letter. */
    readonly item: unknown,
  ) {}
}

export type FrameOpenOutcome =
  | { readonly ok: false; readonly reason: ReasonCode; readonly detail: string }
  | {
      readonly ok: true;
      readonly readings: VerifiedReading[];
      readonly refused: ReadingRefusal[];
      /** Readings the committed-duplicate window recognised; acknowledged without a store write. */
      readonly knownDuplicates: number;
      /**
       * The frame's key id and IV were seen before and the transport redelivers (see `open`): its
       * refusals were counted and kept when it was first opened.
       */
      readonly repeated?: boolean;
    };

/**
 * What a frame whose key id and IV were already seen gets. 'refuse': `replayed_frame` (a stream
 * transport, where the device never sends the same bytes twice). 'redelivered': the transport itself
 * delivers a message again (an MQTT broker after a lost PUBACK), so the same bytes are expected: the
 * frame is judged by its readings — those committed are duplicates (ACK), the rest are taken now.
 */
export type RepeatedIvPolicy = 'refuse' | 'redelivered';

export class FrameOpener {
  private readonly now: () => number;

  constructor(private readonly options: FrameOpenerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * `redrive` is an operator re-driving a dead letter: the frame is old by nature, so the sent-at skew
   * check and the IV replay window are skipped; authenticity and every per-reading check still apply, and
   * (device, seq) identity keeps a second re-drive harmless.
   */
  open(
    frame: DataFrame,
    source: SourceKind,
    mode: 'live' | 'redrive' = 'live',
    repeatedIv: RepeatedIvPolicy = 'refuse',
  ): FrameOpenOutcome {
    const { keys, ivWindow, maxClockSkewMs } = this.options;
    const entry = keys.resolve(frame.keyId);
    if (entry === undefined) return refuse('unknown_key', 'key id is not known to the hub');
    if (entry.revoked) return refuse('revoked_key', 'key id was revoked');
    const receivedAt = this.now();
    if (mode === 'redrive') {
      const opened = openDataFrame(frame, entry.key, this.options.maxReadingsPerFrame);
      return opened.ok ? this.checkReadings(opened.readings, entry, source, receivedAt) : opened;
    }
    if (Math.abs(receivedAt - frame.sentAt) > maxClockSkewMs) {
      return refuse('stale_frame', `sent-at differs from hub time by more than ${maxClockSkewMs} ms`);
    }
    const opened = openDataFrame(frame, entry.key, this.options.maxReadingsPerFrame);
    if (!opened.ok) return opened;
    // Only authentic frames enter the IV window, so forged frames cannot poison it.
    if (!ivWindow.firstSighting(ivIdOf(frame))) {
      if (repeatedIv === 'refuse') return refuse('replayed_frame', 'this key id and IV were already seen');
      // Redelivered: a replay can at most store the device's own readings once, which (device, seq)
      // guarantees; refusing it would lose readings whose first delivery never committed.
      return { ...this.checkReadings(opened.readings, entry, source, receivedAt), repeated: true };
    }

    return this.checkReadings(opened.readings, entry, source, receivedAt);
  }

  /**
   * Forgets the IV of a frame that was opened but never committed (the hub could not take it: overload,
   * store outage, shutdown). Its readings are not stored, so the same bytes delivered again (an MQTT
   * broker's redelivery of an unacknowledged message) must open again, not be refused as a replay.
   */
  forgetIv(frame: DataFrame): void {
    this.options.ivWindow.forget(ivIdOf(frame));
  }

  /**
   * The per-reading checks shared by sealed frames and readings authenticated another way (HTTP HMAC
   * signatures, device tokens): schema, device authorisation by `entry`, timestamp range, and the
   * committed-duplicate window.
   */
  checkReadings(
    candidates: readonly unknown[],
    entry: KeyEntry,
    source: SourceKind,
    receivedAt: number = this.now(),
  ): FrameOpenOutcome & { readonly ok: true } {
    const readings: VerifiedReading[] = [];
    const refused: ReadingRefusal[] = [];
    let knownDuplicates = 0;
    for (const candidate of candidates) {
      if (candidate instanceof RefusedCandidate) {
        const { reason, detail, device, item } = candidate;
        refused.push({ reason, device: device?.slice(0, 128) ?? null, detail, raw: rawOf(item) });
        continue;
      }
      const checked = validateReading(candidate);
      if (!checked.ok) {
        refused.push({
          reason: checked.reason,
          device: deviceOf(candidate),
          detail: checked.detail,
          raw: rawOf(candidate),
        });
        continue;
      }
      const reading = checked.reading;
      if (this.options.keys.isDeviceRevoked(reading.device)) {
        refused.push({
          reason: 'device_not_allowed',
          device: reading.device,
          detail: `device ${reading.device} was revoked`,
          raw: rawOf(candidate),
        });
        continue;
      }
      if (entry.devices !== 'any' && !entry.devices.has(reading.device)) {
        refused.push({
          reason: 'device_not_allowed',
          device: reading.device,
          detail: `key ${entry.keyId} may not speak for device ${reading.device}`,
          raw: rawOf(candidate),
        });
        continue;
      }
      const age = receivedAt - reading.ts;
      if (age > this.options.maxReadingAgeMs || -age > this.options.maxReadingFutureMs) {
        refused.push({
          reason: 'timestamp_out_of_range',
          device: reading.device,
          detail: `ts ${reading.ts} is outside [now - ${this.options.maxReadingAgeMs} ms, now + ${this.options.maxReadingFutureMs} ms]`,
          raw: rawOf(candidate),
        });
        continue;
      }
      if (this.options.seqWindow.seen(reading.device, reading.seq)) {
        knownDuplicates += 1;
        continue;
      }
      readings.push({
        device: reading.device,
        seq: reading.seq,
        ts: reading.ts,
        data: reading.data,
        source,
        receivedAt,
      });
    }
    return { ok: true, readings, refused, knownDuplicates };
  }
}

function refuse(reason: ReasonCode, detail: string): FrameOpenOutcome {
  return { ok: false, reason, detail };
}

function deviceOf(candidate: unknown): string | null {
  if (typeof candidate === 'object' && candidate !== null && 'device' in candidate) {
    const device = (candidate as { device: unknown }).device;
    if (typeof device === 'string') return device.slice(0, 128);
  }
  return null;
}

/**
 * JSON.stringify recurses: a reading nested thousands of levels deep (JSON.parse accepts it) overflows
 * the stack. Such a reading is refused by the schema (data depth) and its dead letter keeps a note
 * instead of its bytes; throwing here would fail the whole frame or request (and on TCP the process).
 */
function rawOf(candidate: unknown): Uint8Array {
  let json: string | undefined;
  try {
    json = JSON.stringify(candidate);
  } catch {
    json = '<reading nests too deeply to re-encode>';
  }
  return Buffer.from(json ?? 'undefined', 'utf8');
}

/** The replay-window id of a frame: its key id and IV (the same id in the local and the shared window). */
export function ivIdOf(frame: DataFrame): string {
  return `${frame.keyId}\u0000${frame.iv.toString('base64')}`;
}
