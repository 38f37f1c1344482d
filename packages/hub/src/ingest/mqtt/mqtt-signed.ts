/**
 * One HMAC-signed JSON message on `<prefix>/<channel>/signed`: the XRayIOT-style signature of the signed
 * HTTP route (hmac-signature.ts, its exported functions: the same header parsing, canonical string and
 * constant-time comparison), with the four headers carried as MQTT 5 user properties (`x-device-id`,
 * `x-timestamp`, `x-nonce`, `x-hmac-signature`) and the payload as the signed body. Checks run cheapest
 * first and fail closed: headers, timestamp tolerance, the device's keys (a revoked key only names the
 * refusal), the nonce (recorded only once the signature verified), then the readings take the same
 * per-reading checks as the contents of a frame. The answer is JSON for `<channel>/signed-answers`.
 */
import { isUtf8 } from 'node:buffer';
import type { ReasonCode } from '@sealstream/protocol';
import type { KeyEntry, KeyResolver } from '../../pipeline/keyring.js';
import type { NonceWindow } from '../../pipeline/nonce-window.js';
import { forgetShared, sharedSightings } from '../../pipeline/shared-replay-check.js';
import type { SharedReplayWindow } from '../../pipeline/shared-state-ports.js';
import type { FrameAnswer, Pipeline } from '../../pipeline/pipeline.js';
import { expectedSignature, readSignatureHeaders, signatureMatches } from '../http/hmac-signature.js';

export interface MqttSignedSettings {
  readonly pipeline: Pipeline;
  readonly keys: KeyResolver;
  readonly nonces: NonceWindow;
  /** Nonces shared with other hubs (Redis), checked after `nonces`; absent: `nonces` is the whole check. */
  readonly sharedNonces?: SharedReplayWindow;
  readonly signatureToleranceMs: number;
  readonly maxReadingsPerMessage: number;
  /** Largest payload taken (the frames topic's bound too); larger is refused `body_too_large`. */
  readonly maxMessageBytes: number;
  readonly now: () => number;
}

export type SignedAnswer =
  | { readonly outcome: 'ack'; readonly accepted: number; readonly duplicates: number; readonly rejected: number }
  | { readonly outcome: 'error'; readonly reason: ReasonCode; readonly detail: string; readonly retryable: boolean };

/** Every signed message is answered and acknowledged; retryable answers ask the device to sign it again. */
export type SignedOutcome = { readonly kind: 'answered'; readonly answer: SignedAnswer };

type UserProperties = Readonly<Record<string, string | string[] | undefined>>;

export async function handleSignedMessage(
  settings: MqttSignedSettings,
  topic: string,
  payload: Buffer,
  userProperties: UserProperties | undefined,
  /**
   * The broker hands the message out again (DUP: our acknowledgement of an earlier delivery was lost).
   * Its nonce may be in the shared window from that delivery — also when it was answered
   * state_unavailable after a slow Redis recorded it anyway — so a shared sighting does not refuse it:
   * its readings are idempotent and it is submitted again.
   */
  redelivered = false,
): Promise<SignedOutcome> {
  const { pipeline } = settings;
  const refuse = (reason: ReasonCode, detail: string, device: string | null): SignedOutcome => {
    pipeline.refuse({
      reason,
      source: 'mqtt',
      peer: topic,
      device,
      detail: `${detail} (topic ${topic})`,
      raw: payload,
    });
    return { kind: 'answered', answer: { outcome: 'error', reason, detail, retryable: false } };
  };
  // Cheapest check first: the size (no HMAC over a body the hub will not take).
  if (payload.length > settings.maxMessageBytes) {
    return refuse('body_too_large', `payload of ${payload.length} bytes over ${settings.maxMessageBytes}`, null);
  }
  const parsed = readSignatureHeaders(userProperties ?? {});
  if (!parsed.ok) return refuse('missing_auth', `${parsed.detail} (as an MQTT 5 user property)`, null);
  const headers = parsed.value;
  const device = headers.deviceId;
  const now = settings.now();
  if (Math.abs(now - headers.timestampMs) > settings.signatureToleranceMs) {
    return refuse(
      'stale_request',
      `x-timestamp differs from hub time by more than ${settings.signatureToleranceMs} ms`,
      device,
    );
  }
  const entries = settings.keys.keysForDevice(device);
  if (entries.length === 0) return refuse('unknown_device', 'no key of the hub may speak for this device', device);
  let entry: KeyEntry | undefined;
  for (const candidate of entries) {
    if (
      !candidate.revoked &&
      signatureMatches(expectedSignature(candidate.secret, headers, payload), headers.signature)
    ) {
      entry = candidate;
      break;
    }
  }
  if (entry === undefined) {
    const revoked = entries.some(
      (candidate) =>
        candidate.revoked && signatureMatches(expectedSignature(candidate.secret, headers, payload), headers.signature),
    );
    return revoked
      ? refuse('revoked_key', 'the message is signed with a revoked key', device)
      : refuse('bad_signature', 'the signature does not verify with any key of the device', device);
  }
  const nonce = headers.nonce.toLowerCase();
  const recorded = settings.nonces.check(device, nonce, headers.timestampMs, now);
  if (recorded === 'replayed') return refuse('replayed_nonce', 'this nonce was already used by the device', device);
  if (recorded !== 'fresh') {
    const detail = `the nonce window is full (${recorded}); sign again later`;
    return { kind: 'answered', answer: { outcome: 'error', reason: 'overloaded', detail, retryable: true } };
  }
  if (settings.sharedNonces !== undefined) {
    const [fresh] = (await sharedSightings(settings.sharedNonces, [`${device}:${nonce}`])) ?? [];
    if (fresh === false && !redelivered) {
      return refuse('replayed_nonce', 'this nonce was already used by the device', device);
    }
    if (fresh === undefined) {
      // Not checked, so not spent: the device may send this very message again. Forgotten here, and in
      // Redis if it recorded it after all (best effort: a Redis still away keeps it for its window).
      settings.nonces.forget(device, nonce);
      forgetShared(settings.sharedNonces, [`${device}:${nonce}`]);
      const detail = 'the shared nonce window could not be reached; send again later';
      settings.pipeline.refuse({
        reason: 'state_unavailable',
        source: 'mqtt',
        peer: topic,
        device,
        detail,
        raw: payload,
      });
      return { kind: 'answered', answer: { outcome: 'error', reason: 'state_unavailable', detail, retryable: true } };
    }
  }

  const readings = readingsOf(payload, settings.maxReadingsPerMessage);
  if (!readings.ok) return refuse(readings.reason, readings.detail, device);
  const candidates: unknown[] = [];
  for (const reading of readings.value) {
    if ('device' in reading && reading['device'] !== device) {
      return refuse('device_not_allowed', `a reading names a device other than x-device-id ${device}`, null);
    }
    candidates.push({ ...reading, device });
  }
  const answer: FrameAnswer = await pipeline.handleAuthenticatedReadings(candidates, entry, 'mqtt', topic);
  if (answer.kind === 'ack') {
    return {
      kind: 'answered',
      answer: { outcome: 'ack', accepted: answer.accepted, duplicates: answer.duplicates, rejected: answer.rejected },
    };
  }
  if (answer.reason === 'overloaded' || answer.reason === 'store_unavailable' || answer.reason === 'shutting_down') {
    // Not taken: the nonce is spent, so the broker's redelivery would be a replay; forget nothing and
    // answer retryable: the device signs again with a fresh nonce.
    return {
      kind: 'answered',
      answer: { outcome: 'error', reason: answer.reason, detail: answer.detail, retryable: true },
    };
  }
  return {
    kind: 'answered',
    answer: { outcome: 'error', reason: answer.reason, detail: answer.detail, retryable: false },
  };
}

type ReadingsCheck =
  | { readonly ok: true; readonly value: ReadonlyArray<Record<string, unknown>> }
  | { readonly ok: false; readonly reason: 'malformed_body' | 'too_many_readings'; readonly detail: string };

/** The envelope, as on the signed HTTP route: `{ readings: [...] }` or one reading object. */
function readingsOf(body: Buffer, max: number): ReadingsCheck {
  let value: unknown;
  try {
    if (body.length === 0 || !isUtf8(body)) throw new Error('not UTF-8');
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed_body', detail: 'the payload is not JSON' };
  }
  if (!isObject(value)) return { ok: false, reason: 'malformed_body', detail: 'the payload is not a JSON object' };
  const list: unknown = 'readings' in value ? value['readings'] : [value];
  if (!Array.isArray(list) || list.length === 0) {
    return { ok: false, reason: 'malformed_body', detail: 'readings must be a non-empty array' };
  }
  if (list.length > max) return { ok: false, reason: 'too_many_readings', detail: `more than ${max} readings` };
  if (!list.every(isObject)) return { ok: false, reason: 'malformed_body', detail: 'every reading must be an object' };
  return { ok: true, value: list };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
