/**
 * The bytes of a batch on the bus: what a gateway publishes for a writer to commit, and the commit
 * notice a writer sends back. JSON (readings as tuples, raw dead-letter bytes in base64) because the
 * payload is mostly JSON reading bodies already; a decoder that refuses anything it did not write,
 * since a queue is shared infrastructure and a message may have been written by another version.
 *
 * What a writer publishes on the committed fanout is either one such batch or a bundle of them (the
 * batches of one commit, forwarded as the gateways wrote them when all their readings were new: the
 * writer does not encode again what it was sent, and the bundle is framed by length, never parsed).
 */
import type { ReasonCode } from '@sealstream/protocol';
import { isReasonCode } from '@sealstream/protocol';
import type {
  CommitBatch,
  DeadLetter,
  RefusalCount,
  SignalSummaryRow,
  SourceKind,
  VerifiedReading,
} from '../pipeline/ports.js';

const BATCH_VERSION = 1;
/** A batch carrying signal summaries (`s`); see WireBatch. */
const SIGNALS_BATCH_VERSION = 2;
/** Every ingest path; `satisfies Record` makes a new SourceKind a compile error here until it is listed. */
const SOURCE_KIND_SET = { tcp: true, legacy: true, http: true, mqtt: true, amqp: true } satisfies Record<
  SourceKind,
  true
>;
const SOURCE_KINDS = Object.keys(SOURCE_KIND_SET);
const SOURCES: ReadonlySet<string> = new Set<string>(SOURCE_KINDS);

/** A message on the bus that is not a batch of this version. */
export class BusCodecError extends Error {
  readonly code = 'bus_message_malformed';
  constructor(detail: string) {
    super(`bus message malformed: ${detail}`);
    this.name = 'BusCodecError';
  }
}

type ReadingTuple = [device: string, seq: number, ts: number, receivedAt: number, source: string, data: unknown];

interface WireLetter {
  reason: string;
  source: string;
  peer: string;
  device: string | null;
  detail: string;
  raw: string;
  truncated: boolean;
  receivedAt: number;
}

type SignalTuple = [
  device: string,
  time: number,
  capturedAt: number,
  receivedAt: number,
  dataLength: number,
  dataVolume: number,
  format: string,
  source: string,
  correlationId: string | null,
  payloadSha256Hex: string,
];

/**
 * `s`: XRayIOT signal summaries, committed by the writer with the batch's readings. A batch that holds
 * any is version 2, every other batch version 1: a writer of a build before summaries would commit the
 * readings and silently drop the summaries of a version-1 batch, while it refuses a version 2 batch
 * (to its dead queue, with no notice), so the gateway publishes it again until an upgraded writer takes
 * it, and its XRayIOT messages go to their retry queue meanwhile. Nothing is dropped in a rolling
 * upgrade; batches without summaries flow through either build.
 */
interface WireBatch {
  v: number;
  r: ReadingTuple[];
  d?: WireLetter[];
  c?: Array<[device: string | null, reason: string, receivedAt: number, count: number]>;
  s?: SignalTuple[];
}

export function encodeBusBatch(batch: CommitBatch): Buffer {
  const wire: WireBatch = {
    v: batch.signals !== undefined && batch.signals.length > 0 ? SIGNALS_BATCH_VERSION : BATCH_VERSION,
    r: batch.readings.map((r) => [r.device, r.seq, r.ts, r.receivedAt, r.source, r.data]),
  };
  if (batch.deadLetters.length > 0) {
    wire.d = batch.deadLetters.map((l) => ({
      reason: l.reason,
      source: l.source,
      peer: l.peer,
      device: l.device,
      detail: l.detail,
      raw: Buffer.from(l.raw.buffer, l.raw.byteOffset, l.raw.byteLength).toString('base64'),
      truncated: l.truncated,
      receivedAt: l.receivedAt,
    }));
  }
  if (batch.refusalCounts !== undefined && batch.refusalCounts.length > 0) {
    wire.c = batch.refusalCounts.map((c) => [c.device, c.reason, c.receivedAt, c.count]);
  }
  if (batch.signals !== undefined && batch.signals.length > 0) {
    wire.s = batch.signals.map((g) => [
      g.deviceId,
      g.time,
      g.capturedAt,
      g.receivedAt,
      g.dataLength,
      g.dataVolume,
      g.format,
      g.source,
      g.correlationId,
      Buffer.from(g.payloadSha256.buffer, g.payloadSha256.byteOffset, g.payloadSha256.byteLength).toString('hex'),
    ]);
  }
  return Buffer.from(JSON.stringify(wire));
}

export function decodeBusBatch(bytes: Uint8Array): CommitBatch {
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new BusCodecError('not JSON');
  }
  // A version 1 batch with `s` was written by the build before version 2: its summaries are taken too.
  if (!isObject(wire) || (wire['v'] !== BATCH_VERSION && wire['v'] !== SIGNALS_BATCH_VERSION)) {
    throw new BusCodecError('unknown version');
  }
  const tuples = wire['r'];
  if (!Array.isArray(tuples)) throw new BusCodecError('readings missing');
  const readings = tuples.map(decodeReading);
  const letters = wire['d'] === undefined ? [] : arrayOf(wire['d'], 'dead letters').map(decodeLetter);
  const counts = wire['c'] === undefined ? [] : arrayOf(wire['c'], 'refusal counts').map(decodeCount);
  const signals = wire['s'] === undefined ? [] : arrayOf(wire['s'], 'signal summaries').map(decodeSignal);
  if (wire['v'] === SIGNALS_BATCH_VERSION && signals.length === 0)
    throw new BusCodecError('version 2 without summaries');
  return {
    readings,
    deadLetters: letters,
    ...(counts.length === 0 ? {} : { refusalCounts: counts }),
    ...(signals.length === 0 ? {} : { signals }),
  };
}

/** The writer's answer for one batch: which readings were new (true) and which were already stored. */
export function encodeCommitNotice(inserted: readonly boolean[]): Buffer {
  let bits = '';
  for (const flag of inserted) bits += flag ? '1' : '0';
  return Buffer.from(JSON.stringify({ v: BATCH_VERSION, i: bits }));
}

/**
 * AMQP `type` of a notice bundle, and the header a gateway sets on its batches to say it reads bundles
 * (a writer sends single notices to a gateway that does not, so either may be upgraded first).
 */
export const NOTICE_BUNDLE_TYPE = 'sealstream.notices';
export const NOTICE_BUNDLE_HEADER = 'x-sealstream-notice-bundles';

/** One entry of a notice bundle: the batch's correlation id and which of its readings were new. */
export interface BundledNotice {
  readonly correlationId: string;
  readonly inserted: readonly boolean[];
}

/**
 * The notices of one commit for one gateway in one message. A commit merges many batches, several of
 * them from the same gateway; a message per batch was most of the broker's work at 20K readings/s.
 */
export function encodeNoticeBundle(notices: readonly BundledNotice[]): Buffer {
  const entries = notices.map(({ correlationId, inserted }) => {
    let bits = '';
    for (const flag of inserted) bits += flag ? '1' : '0';
    return [correlationId, bits];
  });
  return Buffer.from(JSON.stringify({ v: BATCH_VERSION, b: entries }));
}

/** The entries of a notice bundle; each entry's bits are checked against its batch by the caller. */
export function decodeNoticeBundle(bytes: Uint8Array): Array<{ correlationId: string; bits: string }> {
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new BusCodecError('notice bundle is not JSON');
  }
  if (!isObject(wire) || wire['v'] !== BATCH_VERSION || !Array.isArray(wire['b'])) {
    throw new BusCodecError('notice bundle of unknown version');
  }
  const entries: Array<{ correlationId: string; bits: string }> = [];
  for (const entry of wire['b'] as unknown[]) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') {
      throw new BusCodecError('notice bundle entry malformed');
    }
    entries.push({ correlationId: entry[0], bits: entry[1] });
  }
  return entries;
}

/** A notice's bits as flags, when they are flags for exactly `expectedReadings` readings. */
export function noticeBits(bits: string, expectedReadings: number): boolean[] {
  if (bits.length !== expectedReadings || !/^[01]*$/.test(bits))
    throw new BusCodecError('notice does not match its batch');
  const inserted = new Array<boolean>(bits.length);
  for (let i = 0; i < bits.length; i += 1) inserted[i] = bits.charCodeAt(i) === 49;
  return inserted;
}

/**
 * The writer's answer for a batch the store refused for its data even alone (one row PostgreSQL will not
 * take): the gateway's committer then splits it (pipeline/commit-splitter.ts) and sends the halves again,
 * so only the refused row is refused. `detail` is the store's message, which never carries data values.
 */
export function encodeRefusedNotice(detail: string): Buffer {
  return Buffer.from(JSON.stringify({ v: BATCH_VERSION, e: 'store_refused_data', m: detail.slice(0, 300) }));
}

/** The refusal's detail when `bytes` is a refused notice, else undefined (a commit notice, or garbage). */
export function noticeRefusal(bytes: Uint8Array): string | undefined {
  try {
    const wire: unknown = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
    if (isObject(wire) && wire['v'] === BATCH_VERSION && wire['e'] === 'store_refused_data') {
      return typeof wire['m'] === 'string' ? wire['m'] : 'the store refused the batch';
    }
  } catch {
    // not JSON: decodeCommitNotice says so
  }
  return undefined;
}

export function decodeCommitNotice(bytes: Uint8Array, expectedReadings: number): boolean[] {
  let wire: unknown;
  try {
    wire = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new BusCodecError('notice is not JSON');
  }
  if (!isObject(wire) || wire['v'] !== BATCH_VERSION || typeof wire['i'] !== 'string') {
    throw new BusCodecError('notice of unknown version');
  }
  return noticeBits(wire['i'], expectedReadings);
}

function decodeReading(value: unknown): VerifiedReading {
  if (!Array.isArray(value) || value.length !== 6) throw new BusCodecError('reading is not a 6-tuple');
  const [device, seq, ts, receivedAt, source, data] = value as unknown[];
  if (typeof device !== 'string' || device.length === 0) throw new BusCodecError('reading device');
  if (!Number.isSafeInteger(seq) || !Number.isFinite(ts) || !Number.isFinite(receivedAt)) {
    throw new BusCodecError('reading numbers');
  }
  if (typeof source !== 'string' || !SOURCES.has(source)) throw new BusCodecError('reading source');
  if (!isObject(data)) throw new BusCodecError('reading data');
  return {
    device,
    seq: seq as number,
    ts: ts as number,
    receivedAt: receivedAt as number,
    source: source as SourceKind,
    data,
  };
}

function decodeLetter(value: unknown): DeadLetter {
  if (!isObject(value)) throw new BusCodecError('dead letter');
  const { reason, source, peer, device, detail, raw, truncated, receivedAt } = value;
  if (typeof reason !== 'string' || !isReasonCode(reason)) throw new BusCodecError('dead letter reason');
  if (typeof source !== 'string' || !SOURCES.has(source)) throw new BusCodecError('dead letter source');
  if (typeof peer !== 'string' || typeof detail !== 'string' || typeof raw !== 'string') {
    throw new BusCodecError('dead letter fields');
  }
  if (!(device === null || typeof device === 'string') || typeof truncated !== 'boolean') {
    throw new BusCodecError('dead letter fields');
  }
  if (typeof receivedAt !== 'number' || !Number.isFinite(receivedAt)) throw new BusCodecError('dead letter time');
  return {
    reason: reason as ReasonCode,
    source: source as SourceKind,
    peer,
    device,
    detail,
    raw: new Uint8Array(Buffer.from(raw, 'base64')),
    truncated,
    receivedAt,
  };
}

function decodeCount(value: unknown): RefusalCount {
  if (!Array.isArray(value) || value.length !== 4) throw new BusCodecError('refusal count');
  const [device, reason, receivedAt, count] = value as unknown[];
  if (!(device === null || typeof device === 'string')) throw new BusCodecError('refusal count device');
  if (typeof reason !== 'string' || !isReasonCode(reason)) throw new BusCodecError('refusal count reason');
  if (!Number.isFinite(receivedAt) || !Number.isSafeInteger(count) || (count as number) < 1) {
    throw new BusCodecError('refusal count numbers');
  }
  return { device, reason: reason as ReasonCode, receivedAt: receivedAt as number, count: count as number };
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

function decodeSignal(value: unknown): SignalSummaryRow {
  if (!Array.isArray(value) || value.length !== 10) throw new BusCodecError('signal summary is not a 10-tuple');
  const [device, time, capturedAt, receivedAt, dataLength, dataVolume, format, source, correlationId, sha] =
    value as unknown[];
  if (typeof device !== 'string' || device.length === 0) throw new BusCodecError('signal summary device');
  if (!Number.isFinite(time) || !Number.isFinite(capturedAt) || !Number.isFinite(receivedAt)) {
    throw new BusCodecError('signal summary times');
  }
  if (!Number.isSafeInteger(dataLength) || !Number.isSafeInteger(dataVolume)) {
    throw new BusCodecError('signal summary sizes');
  }
  if (typeof format !== 'string' || typeof source !== 'string' || !SOURCES.has(source)) {
    throw new BusCodecError('signal summary format or source');
  }
  if (!(correlationId === null || typeof correlationId === 'string')) {
    throw new BusCodecError('signal summary correlation id');
  }
  if (typeof sha !== 'string' || !SHA256_HEX.test(sha)) throw new BusCodecError('signal summary payload hash');
  return {
    deviceId: device,
    time: time as number,
    capturedAt: capturedAt as number,
    receivedAt: receivedAt as number,
    dataLength: dataLength as number,
    dataVolume: dataVolume as number,
    format,
    source: source as SourceKind,
    correlationId,
    payloadSha256: new Uint8Array(Buffer.from(sha, 'hex')),
  };
}

function arrayOf(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new BusCodecError(`${what} is not a list`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "SSB" and the bundle version: no JSON batch starts with it ('{'). */
const BUNDLE_MAGIC = Buffer.from([0x53, 0x53, 0x42, 0x01]);

/** One committed-feed message of several encoded batches: magic, then each batch as u32 length + bytes. */
export function encodeCommittedBundle(batches: readonly Uint8Array[]): Buffer {
  let size = BUNDLE_MAGIC.length;
  for (const batch of batches) size += 4 + batch.byteLength;
  const out = Buffer.allocUnsafe(size);
  BUNDLE_MAGIC.copy(out, 0);
  let offset = BUNDLE_MAGIC.length;
  for (const batch of batches) {
    out.writeUInt32BE(batch.byteLength, offset);
    out.set(batch, offset + 4);
    offset += 4 + batch.byteLength;
  }
  return out;
}

/**
 * A committed-feed message as one batch: a single encoded batch, or a bundle whose batches are decoded
 * and joined. Refuses (BusCodecError) a bundle whose framing does not add up or any batch that does.
 */
export function decodeCommittedMessage(bytes: Uint8Array): CommitBatch {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < BUNDLE_MAGIC.length || !buffer.subarray(0, BUNDLE_MAGIC.length).equals(BUNDLE_MAGIC)) {
    return decodeBusBatch(buffer);
  }
  const readings: VerifiedReading[] = [];
  const deadLetters: DeadLetter[] = [];
  const refusalCounts: RefusalCount[] = [];
  let offset = BUNDLE_MAGIC.length;
  while (offset < buffer.length) {
    if (offset + 4 > buffer.length) throw new BusCodecError('bundle framing');
    const length = buffer.readUInt32BE(offset);
    const end = offset + 4 + length;
    if (end > buffer.length) throw new BusCodecError('bundle framing');
    const batch = decodeBusBatch(buffer.subarray(offset + 4, end));
    for (const reading of batch.readings) readings.push(reading);
    for (const letter of batch.deadLetters) deadLetters.push(letter);
    for (const count of batch.refusalCounts ?? []) refusalCounts.push(count);
    offset = end;
  }
  return refusalCounts.length === 0 ? { readings, deadLetters } : { readings, deadLetters, refusalCounts };
}
