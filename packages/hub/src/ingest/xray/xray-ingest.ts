/**
 * One XRayIOT signal from bytes to committed rows, shared by every door it arrives through (AMQP
 * messages, the signed HTTP route): authenticate (signature headers, the 300 s window on the signing
 * time, the device's keys, the nonce), check the XRayRawSignal, expand it into readings, and submit them
 * with its summary through the pipeline (one commit holds both). Every refusal is a value with a reason code, counted and
 * dead-lettered with the raw body by the pipeline; only an answer of kind 'stored' means committed.
 */
import { isUtf8 } from 'node:buffer';
import type { ReasonCode } from '@sealstream/protocol';
import type { KeyEntry, KeyResolver } from '../../pipeline/keyring.js';
import type { NonceWindow } from '../../pipeline/nonce-window.js';
import type { InFlightNonces } from './in-flight-nonces.js';
import { forgetShared, sharedSightings } from '../../pipeline/shared-replay-check.js';
import type { SharedReplayWindow } from '../../pipeline/shared-state-ports.js';
import type { Pipeline, SignalRefusal } from '../../pipeline/pipeline.js';
import type { SignalSummaryRow, SourceKind } from '../../pipeline/ports.js';
import { HUB_BUSY_REASONS } from '../http/ingest-replies.js';
import { readSignatureHeaders, verifySignature } from './xray-signature.js';
import {
  SIGNAL_BODY_LIMIT_BYTES,
  expandSignal,
  validateSignal,
  type ExpandedSignal,
  type SignalSummary,
} from './xray-signal.js';

export type SignalAnswer =
  | {
      readonly kind: 'stored';
      readonly accepted: number;
      readonly duplicates: number;
      readonly rejected: number;
      readonly summary: SignalSummary;
    }
  /** Refused for good (already counted and dead-lettered): do not resend it as is. */
  | { readonly kind: 'refused'; readonly reason: ReasonCode; readonly detail: string }
  /** The hub cannot take it now (overloaded, store down, shutting down): nothing acknowledged, resend later. */
  | { readonly kind: 'busy'; readonly reason: ReasonCode; readonly detail: string }
  /** A broker redelivery of a message this hub already took (its acknowledgement was lost): drop it. */
  | { readonly kind: 'seen' };

export interface SignalSubmitDeps {
  readonly pipeline: Pipeline;
  /**
   * Whether each signal's summary (xray_signals) is committed with its readings; false: readings only
   * (tests of readings only).
   */
  readonly storeSummaries: boolean;
  /** Readings per pipeline submission; a signal with more points is submitted in parts. */
  readonly maxReadingsPerSubmission: number;
  readonly now: () => number;
}

/** A signal checked and expanded, ready to submit. */
export type PreparedSignal = ExpandedSignal;

/**
 * Checks a signal body whose sender is authenticated for `device` and expands it: the body must be an
 * XRayRawSignal of that device. A refusal is counted and dead-lettered here.
 */
export function prepareSignal(
  deps: Pick<SignalSubmitDeps, 'pipeline'>,
  parsedBody: unknown,
  device: string,
  source: SourceKind,
  peer: string,
  raw: Uint8Array,
): PreparedSignal | Extract<SignalAnswer, { kind: 'refused' }> {
  const refuse = (reason: ReasonCode, detail: string, named: string | null = device) => {
    deps.pipeline.refuse({ reason, source, peer, device: named, detail, raw });
    return { kind: 'refused' as const, reason, detail };
  };
  const checked = validateSignal(parsedBody);
  if (!checked.ok) return refuse('schema_invalid', `not an XRayRawSignal: ${checked.detail}`);
  const signal = checked.signal;
  if (signal.deviceId !== device) {
    // The signature speaks for the header's device only; no device on the letter (a re-drive must not
    // mistake the signal for one reading).
    return refuse('device_not_allowed', `deviceId differs from x-device-id ${device}`, null);
  }
  return expandSignal(signal);
}

/**
 * Submits a signal body whose sender is authenticated as `entry` for `device`. The body must be an
 * XRayRawSignal of that device; its summary commits with its (last part of) readings.
 */
export async function submitSignal(
  deps: SignalSubmitDeps,
  parsedBody: unknown,
  device: string,
  entry: KeyEntry,
  source: SourceKind,
  peer: string,
  raw: Uint8Array,
): Promise<SignalAnswer> {
  const prepared = prepareSignal(deps, parsedBody, device, source, peer, raw);
  if ('kind' in prepared) return prepared;
  return submitPrepared(deps, prepared, entry, source, peer, raw);
}

/**
 * Commits a prepared signal's readings in parts of maxReadingsPerSubmission; its summary goes in the
 * last part's commit, so it is stored only once every reading is (a signal without points: one commit
 * of the summary alone). A summary the store refuses for its data refuses the signal `store_refused`,
 * counted and dead-lettered with the signal's bytes (`raw`); its readings were judged on their own.
 */
export async function submitPrepared(
  deps: SignalSubmitDeps,
  expanded: PreparedSignal,
  entry: KeyEntry,
  source: SourceKind,
  peer: string,
  raw: Uint8Array,
): Promise<SignalAnswer> {
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  const step = Math.max(1, deps.maxReadingsPerSubmission);
  const { readings } = expanded;
  const summary = deps.storeSummaries ? [summaryRow(expanded.summary, deps.now(), source)] : [];
  // A reading refused in an earlier part: the summary is not stored (it would claim that reading).
  let refusedEarlier: SignalRefusal | null = null;
  let start = 0;
  do {
    const end = Math.min(readings.length, start + step);
    const last = end === readings.length;
    const part = start === 0 && last ? readings : readings.slice(start, end);
    const withSummary = last && refusedEarlier === null;
    const answer = await deps.pipeline.handleAuthenticatedReadings(
      part,
      entry,
      source,
      peer,
      withSummary ? summary : [],
    );
    if (answer.kind === 'error') return errorAnswer(answer.reason, answer.detail);
    const notStored = last && summary.length > 0 ? (answer.refusedSignals?.[0] ?? refusedEarlier) : undefined;
    if (notStored !== undefined && notStored !== null) {
      return signalRefused(deps, expanded.summary.deviceId, notStored, source, peer, raw);
    }
    if (refusedEarlier === null && answer.firstRefusal !== undefined && answer.rejected > 0) {
      refusedEarlier = { index: 0, ...answer.firstRefusal, deadLettered: true };
    }
    accepted += answer.accepted;
    duplicates += answer.duplicates;
    rejected += answer.rejected;
    start = end;
  } while (start < readings.length);
  return { kind: 'stored', accepted, duplicates, rejected, summary: expanded.summary };
}

/**
 * A signal whose summary was not stored, refused for good: for a reading of it the checks refused (that
 * refusal is counted and dead-lettered already), or for the summary itself, which the store refused for
 * its data (counted and dead-lettered here, with the signal's bytes).
 */
export function signalRefused(
  deps: Pick<SignalSubmitDeps, 'pipeline'>,
  device: string,
  refusal: SignalRefusal,
  source: SourceKind,
  peer: string,
  raw: Uint8Array,
): Extract<SignalAnswer, { kind: 'refused' }> {
  if (!refusal.deadLettered) return refuseSummary(deps, device, refusal.detail, source, peer, raw);
  return { kind: 'refused', reason: refusal.reason, detail: refusal.detail };
}

/** A signal whose summary the store refused for its data: counted, dead-lettered, refused for good. */
export function refuseSummary(
  deps: Pick<SignalSubmitDeps, 'pipeline'>,
  device: string,
  detail: string,
  source: SourceKind,
  peer: string,
  raw: Uint8Array,
): Extract<SignalAnswer, { kind: 'refused' }> {
  deps.pipeline.refuse({ reason: 'store_refused', source, peer, device, detail, raw });
  return { kind: 'refused', reason: 'store_refused', detail };
}

/** A signal's summary as the row committed with its readings. */
export function summaryRow(summary: SignalSummary, receivedAt: number, source: SourceKind): SignalSummaryRow {
  return {
    deviceId: summary.deviceId,
    time: summary.time,
    capturedAt: summary.capturedAt,
    receivedAt,
    dataLength: summary.dataLength,
    dataVolume: summary.dataVolume,
    format: summary.format,
    source,
    correlationId: summary.correlationId,
    payloadSha256: summary.payloadSha256,
  };
}

/** A pipeline error as a signal answer: the hub's own trouble is 'busy' (resend later), the rest refused. */
export function errorAnswer(reason: ReasonCode, detail: string): Extract<SignalAnswer, { kind: 'busy' | 'refused' }> {
  return HUB_BUSY_REASONS.has(reason) ? { kind: 'busy', reason, detail } : { kind: 'refused', reason, detail };
}

export interface SignedMessageDeps extends SignalSubmitDeps {
  readonly keys: KeyResolver;
  readonly nonces: NonceWindow;
  /** Nonces shared with other hubs (Redis), checked after `nonces`; absent: `nonces` is the whole check. */
  readonly sharedNonces?: SharedReplayWindow;
  /**
   * Nonces of messages taken but not yet settled (the AMQP consumer keeps one): a redelivery whose first
   * copy is still in flight is answered busy, not `seen`. Absent: every taken nonce counts as settled.
   */
  readonly inFlight?: InFlightNonces;
  readonly toleranceMs: number;
  readonly allowDefaultSecret: boolean;
}

/** A signed message whose signature, time and nonce passed: what it is, ready to submit. */
export interface VerifiedMessage {
  readonly kind: 'verified';
  readonly device: string;
  readonly entry: KeyEntry;
  /**
   * Lower-case, as recorded in the nonce window and held in flight: settle it once the message's answer
   * is known (forgetNonce when busy, releaseNonce otherwise).
   */
  readonly nonce: string;
  /** `device:nonce`: the message's id in the in-flight set and the shared window (made once). */
  readonly nonceId: string;
  readonly signal: PreparedSignal;
}

/**
 * A signed message as a whole (AMQP): headers as the producer set them, the body bytes as received.
 * `timestampHeader` names the signing time (`x-timestamp-auth` on AMQP). The nonce is recorded only
 * once the signature verified, so forged messages cannot fill the window; a full window refuses
 * (fail closed) as 'busy' so the message is retried, never accepted unchecked.
 */
export async function handleSignedMessage(
  deps: SignedMessageDeps,
  headers: Readonly<Record<string, unknown>>,
  body: Uint8Array,
  timestampHeader: string,
  source: SourceKind,
  peer: string,
  redelivered = false,
): Promise<SignalAnswer> {
  const verified = verifySignedMessage(deps, headers, body, timestampHeader, source, peer, redelivered);
  if (verified.kind !== 'verified') return verified;
  let settled: SignalAnswer['kind'] | null = null;
  try {
    const [sharedVerdict] = await checkSharedNonces(deps, [{ verified, body, redelivered }], source, peer);
    if (sharedVerdict !== undefined && sharedVerdict !== null) {
      settled = sharedVerdict.kind; // checkSharedNonces settled its nonce
      return sharedVerdict;
    }
    const answer = await submitPrepared(deps, verified.signal, verified.entry, source, peer, body);
    settled = answer.kind;
    // Nothing of a busy message is acknowledged: it will come back, and must not meet its own nonce.
    settleNonce(deps, verified, answer.kind);
    return answer;
  } finally {
    if (settled === null) forgetNonce(deps, verified); // failed midway: nothing acknowledged either
  }
}

/** A verified message with what the shared nonce check needs to know of its delivery. */
export interface SharedNonceCandidate {
  readonly verified: VerifiedMessage;
  readonly body: Uint8Array;
  /** Handed out again by the broker, or a copy from the hub's own retry queue (see verifySignedMessage). */
  readonly redelivered: boolean;
}

/**
 * The shared (Redis) nonce check of messages that passed this hub's own checks, one round trip for all
 * of them. A nonce another hub took already is a replay — unless the message is a redelivery or a retry
 * copy: it may not have been committed there, or its earlier attempt was answered busy after a slow
 * Redis recorded its nonce anyway (or while a forget could not reach Redis); its readings are
 * idempotent, so it is submitted again. A window that cannot be reached refuses `state_unavailable` as
 * 'busy' (retried later, never taken unchecked). Resolves, per candidate, to its answer (the nonce then
 * settled), or null when it may go on to be submitted.
 */
export async function checkSharedNonces(
  deps: SignedMessageDeps,
  candidates: readonly SharedNonceCandidate[],
  source: SourceKind,
  peer: string,
): Promise<Array<Exclude<SignalAnswer, { kind: 'stored' }> | null>> {
  const shared = deps.sharedNonces;
  if (shared === undefined || candidates.length === 0) return candidates.map(() => null);
  const sightings = await sharedSightings(
    shared,
    candidates.map((candidate) => sharedNonceId(candidate.verified)),
  );
  return candidates.map((candidate, index) => {
    const { device } = candidate.verified;
    if (sightings === null) {
      // Not checked, so not taken: forgotten here, and in Redis if it recorded it after all (best effort).
      forgetNonce(deps, candidate.verified);
      const detail = 'the shared nonce window could not be reached';
      deps.pipeline.refuse({ reason: 'state_unavailable', source, peer, device, detail, raw: candidate.body });
      return { kind: 'busy', reason: 'state_unavailable', detail };
    }
    if (sightings[index] === false && !candidate.redelivered) {
      const detail = 'this nonce was already used by the device; sign each message afresh';
      deps.pipeline.refuse({ reason: 'replayed_nonce', source, peer, device, detail, raw: candidate.body });
      releaseNonce(deps, candidate.verified);
      return { kind: 'refused', reason: 'replayed_nonce', detail };
    }
    return null;
  });
}

/** Forgets a message that was not taken (busy) here and in the shared window, so its redelivery is. */
export function forgetNonce(deps: SignedMessageDeps, message: VerifiedMessage): void {
  deps.nonces.forget(message.device, message.nonce);
  deps.inFlight?.release(sharedNonceId(message));
  if (deps.sharedNonces !== undefined) forgetShared(deps.sharedNonces, [sharedNonceId(message)]);
}

/** The message settled for good (stored, or refused and dead-lettered): its nonce stays taken. */
export function releaseNonce(deps: SignedMessageDeps, message: VerifiedMessage): void {
  deps.inFlight?.release(sharedNonceId(message));
}

/** Settles a verified message's nonce by its answer: forgotten when busy, kept otherwise. */
export function settleNonce(deps: SignedMessageDeps, message: VerifiedMessage, answer: SignalAnswer['kind']): void {
  if (answer === 'busy') forgetNonce(deps, message);
  else releaseNonce(deps, message);
}

function sharedNonceId(message: VerifiedMessage): string {
  return message.nonceId;
}

/**
 * Everything of handleSignedMessage up to the submission, synchronous: authentication, the time
 * window, the nonce (recorded when fresh and held in flight: the caller settles it, see settleNonce),
 * the body's shape. Refusals are counted and dead-lettered here.
 *
 * `redelivered`: the broker hands the message out again, or it is a copy from the hub's own retry queue
 * (an earlier attempt was answered busy). Either may meet its own nonce: `seen` (acknowledge, drop) when
 * that nonce's message was settled, busy when it is still in flight (its first copy may yet fail).
 */
export function verifySignedMessage(
  deps: SignedMessageDeps,
  headers: Readonly<Record<string, unknown>>,
  body: Uint8Array,
  timestampHeader: string,
  source: SourceKind,
  peer: string,
  redelivered: boolean,
): VerifiedMessage | Exclude<SignalAnswer, { kind: 'stored' }> {
  const refuse = (reason: ReasonCode, detail: string, device: string | null, by = peer) => {
    deps.pipeline.refuse({ reason, source, peer: by, device, detail, raw: body });
    return { kind: 'refused' as const, reason, detail };
  };
  // Every AMQP message comes from the same peer (the broker), and the dead-letter budget is shared fairly
  // between peers (by the text before the last ':', see dead-letter-budget.ts): refusals of what anyone
  // could have sent (before the signature holds) count under a peer of their own, so a flood of
  // forgeries cannot push out the evidence of a real producer's refusals.
  const unverified = source === 'amqp' ? `unverified-${peer}` : peer;
  // Before any HMAC over it: a broker hands over whatever its own message size limit lets through.
  if (body.byteLength > SIGNAL_BODY_LIMIT_BYTES) {
    return refuse(
      'body_too_large',
      `the message body is ${body.byteLength} bytes; an XRayRawSignal fits in ${SIGNAL_BODY_LIMIT_BYTES}`,
      null,
      unverified,
    );
  }
  const parsed = readSignatureHeaders(headers, timestampHeader);
  if (!parsed.ok) return refuse('missing_auth', parsed.detail, null, unverified);
  const signed = parsed.value;
  const device = signed.deviceId;
  const now = deps.now();
  if (Math.abs(now - signed.timestampMs) > deps.toleranceMs) {
    return refuse(
      'stale_request',
      `${timestampHeader} differs from hub time by more than ${deps.toleranceMs} ms (a capture older than the window)`,
      device,
      unverified,
    );
  }
  const verdict = verifySignature(deps.keys, signed, body, deps.allowDefaultSecret);
  if (verdict.kind !== 'ok') return refuse(verdict.reason, verdict.detail, device, unverified);
  const nonce = signed.nonce.toLowerCase();
  const recorded = deps.nonces.check(device, nonce, signed.timestampMs, now);
  if (recorded === 'replayed') {
    // Only the broker (or the hub's retry path) sets `redelivered`: a verified message it hands out again
    // whose nonce this hub holds was taken before (a nonce is forgotten when its message was not), so it
    // is not a replay. But taken is not stored until its first copy settles: until then, retry later.
    if (redelivered) {
      if (deps.inFlight?.has(`${device}:${nonce}`) === true) {
        return {
          kind: 'busy',
          reason: 'overloaded',
          detail: 'the first copy of this message is still being committed',
        };
      }
      return { kind: 'seen' };
    }
    return refuse('replayed_nonce', 'this nonce was already used by the device; sign each message afresh', device);
  }
  if (recorded !== 'fresh') {
    return { kind: 'busy', reason: 'overloaded', detail: 'the nonce window is full' };
  }
  const json = parseJsonBytes(body);
  if (!json.ok) return refuse('malformed_body', 'the body is not UTF-8 JSON', device);
  const prepared = prepareSignal(deps, json.value, device, source, peer, body);
  if ('kind' in prepared) return prepared;
  const nonceId = `${device}:${nonce}`;
  if (deps.inFlight !== undefined && !deps.inFlight.hold(nonceId)) {
    deps.nonces.forget(device, nonce);
    return { kind: 'busy', reason: 'overloaded', detail: 'too many messages in flight' };
  }
  return { kind: 'verified', device, entry: verdict.entry, nonce, nonceId, signal: prepared };
}

function parseJsonBytes(body: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (buffer.length === 0 || !isUtf8(buffer)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(buffer.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}
