/**
 * One XRayIOT signal from bytes to committed rows, shared by every door it arrives through (AMQP
 * messages, the signed HTTP route): authenticate (signature headers, the 300 s window on the signing
 * time, the device's keys, the nonce), check the XRayRawSignal, expand it into readings, submit them
 * through the pipeline, and write its summary. Every refusal is a value with a reason code, counted and
 * dead-lettered with the raw body by the pipeline; only an answer of kind 'stored' means committed.
 */
import { isUtf8 } from 'node:buffer';
import type { ReasonCode } from '@sealstream/protocol';
import type { KeyEntry, KeyResolver } from '../../pipeline/keyring.js';
import type { NonceWindow } from '../../pipeline/nonce-window.js';
import { forgetShared, sharedSightings } from '../../pipeline/shared-replay-check.js';
import type { SharedReplayWindow } from '../../pipeline/shared-state-ports.js';
import type { Pipeline } from '../../pipeline/pipeline.js';
import type { SourceKind } from '../../pipeline/ports.js';
import { HUB_BUSY_REASONS } from '../http/ingest-replies.js';
import type { SignalSummaryWriter } from './signal-summaries.js';
import { readSignatureHeaders, verifySignature } from './xray-signature.js';
import { expandSignal, validateSignal, type SignalSummary } from './xray-signal.js';

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
  /** null: summaries are not stored (a hub without the table, tests of readings only). */
  readonly summaries: SignalSummaryWriter | null;
  /** Readings per pipeline submission; a signal with more points is submitted in parts. */
  readonly maxReadingsPerSubmission: number;
  readonly now: () => number;
}

/**
 * Submits a signal body whose sender is authenticated as `entry` for `device`. The body must be an
 * XRayRawSignal of that device; its readings are committed before its summary is written.
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
  const refuse = (reason: ReasonCode, detail: string, named: string | null = device): SignalAnswer => {
    deps.pipeline.refuse({ reason, source, peer, device: named, detail, raw });
    return { kind: 'refused', reason, detail };
  };
  const checked = validateSignal(parsedBody);
  if (!checked.ok) return refuse('schema_invalid', `not an XRayRawSignal: ${checked.detail}`);
  const signal = checked.signal;
  if (signal.deviceId !== device) {
    // The signature speaks for the header's device only; no device on the letter (a re-drive must not
    // mistake the signal for one reading).
    return refuse('device_not_allowed', `deviceId differs from x-device-id ${device}`, null);
  }
  const expanded = expandSignal(signal);
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  const step = Math.max(1, deps.maxReadingsPerSubmission);
  for (let start = 0; start < expanded.readings.length; start += step) {
    const part = expanded.readings.slice(start, start + step);
    const answer = await deps.pipeline.handleAuthenticatedReadings(part, entry, source, peer);
    if (answer.kind === 'error') {
      if (HUB_BUSY_REASONS.has(answer.reason)) return { kind: 'busy', reason: answer.reason, detail: answer.detail };
      return { kind: 'refused', reason: answer.reason, detail: answer.detail };
    }
    accepted += answer.accepted;
    duplicates += answer.duplicates;
    rejected += answer.rejected;
  }
  if (deps.summaries !== null) {
    const written = await deps.summaries.write({ ...expanded.summary, receivedAt: deps.now(), source });
    if (!written.ok) {
      return { kind: 'busy', reason: written.reason, detail: 'the signal summary could not be stored' };
    }
  }
  return { kind: 'stored', accepted, duplicates, rejected, summary: expanded.summary };
}

export interface SignedMessageDeps extends SignalSubmitDeps {
  readonly keys: KeyResolver;
  readonly nonces: NonceWindow;
  /** Nonces shared with other hubs (Redis), checked after `nonces`; absent: `nonces` is the whole check. */
  readonly sharedNonces?: SharedReplayWindow;
  readonly toleranceMs: number;
  readonly allowDefaultSecret: boolean;
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
  const refuse = (reason: ReasonCode, detail: string, device: string | null): SignalAnswer => {
    deps.pipeline.refuse({ reason, source, peer, device, detail, raw: body });
    return { kind: 'refused', reason, detail };
  };
  const parsed = readSignatureHeaders(headers, timestampHeader);
  if (!parsed.ok) return refuse('missing_auth', parsed.detail, null);
  const signed = parsed.value;
  const device = signed.deviceId;
  const now = deps.now();
  if (Math.abs(now - signed.timestampMs) > deps.toleranceMs) {
    return refuse(
      'stale_request',
      `${timestampHeader} differs from hub time by more than ${deps.toleranceMs} ms (a capture older than the window)`,
      device,
    );
  }
  const verdict = verifySignature(deps.keys, signed, body, deps.allowDefaultSecret);
  if (verdict.kind !== 'ok') return refuse(verdict.reason, verdict.detail, device);
  const recorded = deps.nonces.check(device, signed.nonce.toLowerCase(), signed.timestampMs, now);
  if (recorded === 'replayed') {
    // Only the broker sets `redelivered`: a verified message it hands out again whose nonce this hub
    // holds was taken before (a nonce is forgotten when its message was not), so it is not a replay.
    if (redelivered) return { kind: 'seen' };
    return refuse('replayed_nonce', 'this nonce was already used by the device; sign each message afresh', device);
  }
  if (recorded !== 'fresh') {
    return { kind: 'busy', reason: 'overloaded', detail: 'the nonce window is full' };
  }
  const sharedId = `${device}:${signed.nonce.toLowerCase()}`;
  if (deps.sharedNonces !== undefined) {
    const [fresh] = (await sharedSightings(deps.sharedNonces, [sharedId])) ?? [];
    if (fresh === undefined) {
      // Not checked, so not taken: the retry queue brings it back once the shared window answers.
      deps.nonces.forget(device, signed.nonce.toLowerCase());
      const detail = 'the shared nonce window could not be reached';
      deps.pipeline.refuse({ reason: 'state_unavailable', source, peer, device, detail, raw: body });
      return { kind: 'busy', reason: 'state_unavailable', detail };
    }
    // A redelivery another hub took before may not have been committed there: submit it again (readings
    // are idempotent by identity) rather than acknowledge it unseen.
    if (!fresh && !redelivered) {
      return refuse('replayed_nonce', 'this nonce was already used by the device; sign each message afresh', device);
    }
  }
  const json = parseJsonBytes(body);
  if (!json.ok) return refuse('malformed_body', 'the body is not UTF-8 JSON', device);
  const answer = await submitSignal(deps, json.value, device, verdict.entry, source, peer, body);
  if (answer.kind === 'busy') {
    // Nothing of it is acknowledged: the same message will come back, and must not meet its own nonce.
    deps.nonces.forget(device, signed.nonce.toLowerCase());
    if (deps.sharedNonces !== undefined) forgetShared(deps.sharedNonces, [sharedId]);
  }
  return answer;
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
