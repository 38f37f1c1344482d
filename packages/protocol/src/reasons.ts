/**
 * The reason-code catalogue: every way a frame, line, token or reading can be refused.
 * Codes are stable wire values (ERROR frames carry the number); docs/errors.md lists the same
 * table and a test keeps the two in step. Rejections are values, never thrown across modules.
 */

export interface ReasonInfo {
  /** Stable number carried in ERROR frames. Never reuse a retired number. */
  readonly code: number;
  /**
   * Where the refusal happens: the byte stream, a sealed frame, one reading, the legacy line protocol, one
   * HTTP ingest request as a whole (its authentication or body), or the hub itself.
   */
  readonly scope: 'stream' | 'frame' | 'reading' | 'legacy' | 'request' | 'hub';
  /** Whether the sender may retry the same content later and expect success. */
  readonly retryable: boolean;
  readonly description: string;
}

export const REASONS = {
  // stream: the byte stream itself is broken; the connection is closed after reporting.
  frame_too_large: {
    code: 1,
    scope: 'stream',
    retryable: false,
    description: 'Length prefix exceeds the configured maximum frame size.',
  },
  frame_truncated: {
    code: 2,
    scope: 'stream',
    retryable: false,
    description: 'Frame shorter than its fixed header, or the connection closed mid-frame.',
  },
  bad_version: { code: 3, scope: 'stream', retryable: false, description: 'Unsupported protocol version byte.' },
  unknown_frame_type: {
    code: 4,
    scope: 'stream',
    retryable: false,
    description: 'Frame type byte is not DATA, ACK, ERROR, PING, PONG or CLOSE.',
  },
  malformed_frame: {
    code: 5,
    scope: 'frame',
    retryable: false,
    description:
      'Frame fields do not fit the declared length or are out of range; the frame is refused, the stream continues.',
  },
  idle_timeout: {
    code: 6,
    scope: 'stream',
    retryable: true,
    description: 'No complete frame or heartbeat within the idle timeout (slow or silent sender).',
  },
  too_many_refusals: {
    code: 7,
    scope: 'stream',
    retryable: false,
    description:
      'The connection sent more refused frames than allowed (16 before its first authentic frame, then 100 in any second); it is closed.',
  },
  // frame: one sealed DATA frame is refused as a whole.
  unknown_suite: {
    code: 20,
    scope: 'frame',
    retryable: false,
    description: 'Cipher-suite byte is not AES-256-GCM (1) or AES-256-CTR+HMAC-SHA256 (2).',
  },
  unknown_key: { code: 21, scope: 'frame', retryable: false, description: 'Key id is not known to the hub.' },
  revoked_key: { code: 22, scope: 'frame', retryable: false, description: 'Key id was revoked.' },
  integrity_failed: {
    code: 23,
    scope: 'frame',
    retryable: false,
    description: 'Authentication tag does not verify: tampered, corrupted or sealed with another key.',
  },
  replayed_frame: {
    code: 24,
    scope: 'frame',
    retryable: false,
    description: 'A frame with this key id and IV was already seen inside the replay window.',
  },
  stale_frame: {
    code: 25,
    scope: 'frame',
    retryable: false,
    description: 'Frame sent-at time is outside the allowed clock skew window.',
  },
  bad_payload: {
    code: 26,
    scope: 'frame',
    retryable: false,
    description: 'Decrypted payload is not a JSON array of readings in valid UTF-8.',
  },
  too_many_readings: {
    code: 27,
    scope: 'frame',
    retryable: false,
    description: 'Frame carries more readings than the per-frame maximum.',
  },
  // reading: one reading inside an otherwise good frame is refused.
  schema_invalid: {
    code: 40,
    scope: 'reading',
    retryable: false,
    description: 'Reading does not match the schema (device, seq, ts, data).',
  },
  device_not_allowed: {
    code: 41,
    scope: 'reading',
    retryable: false,
    description: 'The frame key is not allowed to speak for this device id.',
  },
  timestamp_out_of_range: {
    code: 42,
    scope: 'reading',
    retryable: false,
    description: 'Reading timestamp is too far in the past or the future.',
  },
  unstorable_text: {
    code: 43,
    scope: 'reading',
    retryable: false,
    description:
      'A text field or key holds what PostgreSQL cannot store (a NUL character or an unpaired UTF-16 surrogate); the reading is refused alone.',
  },
  store_refused: {
    code: 44,
    scope: 'reading',
    retryable: false,
    description:
      'The store refused this one reading, or an XRayIOT signal summary, for its data (a data error, SQLSTATE class 22, 23 or 54); it alone is refused and kept as a dead letter, the rest of its batch is committed.',
  },
  too_many_metrics: {
    code: 48,
    scope: 'reading',
    retryable: false,
    description:
      'Reading would add a metric (numeric field) to a device that already has the most metrics allowed (`--max-metrics-per-device`).',
  },
  // legacy: the seed line protocol (AUTH:/DATA: lines of ivhex:cthex tokens).
  legacy_auth_failed: {
    code: 60,
    scope: 'legacy',
    retryable: false,
    description: 'AUTH line token does not match AUTH_TOKEN.',
  },
  legacy_not_authenticated: {
    code: 61,
    scope: 'legacy',
    retryable: false,
    description: 'DATA line before a successful AUTH.',
  },
  legacy_line_too_long: {
    code: 62,
    scope: 'legacy',
    retryable: false,
    description: 'Line exceeds the maximum legacy line length.',
  },
  legacy_unknown_line: { code: 63, scope: 'legacy', retryable: false, description: 'Line is neither AUTH: nor DATA:.' },
  legacy_bad_token: {
    code: 64,
    scope: 'legacy',
    retryable: false,
    description: 'Token is not ivhex:cthex with a 16-byte IV.',
  },
  legacy_bad_json: {
    code: 65,
    scope: 'legacy',
    retryable: false,
    description: 'Decrypted token is not a JSON object with string name, origin, destination, secret_key.',
  },
  legacy_integrity_failed: {
    code: 66,
    scope: 'legacy',
    retryable: false,
    description: 'secret_key does not equal the SHA-256 of the message fields.',
  },
  legacy_replayed_token: {
    code: 67,
    scope: 'legacy',
    retryable: false,
    description: 'A token with this IV was already seen from this source inside the replay window.',
  },
  legacy_too_many_tokens: {
    code: 68,
    scope: 'legacy',
    retryable: false,
    description: 'DATA line carries more tokens than the per-line maximum; the line is refused whole, unopened.',
  },
  // request: one HTTP ingest request is refused as a whole (authentication headers, device token, body).
  missing_auth: {
    code: 100,
    scope: 'request',
    retryable: false,
    description:
      'A required authentication header (x-device-id, x-timestamp, x-nonce, x-hmac-signature or Authorization) is missing or malformed.',
  },
  bad_signature: {
    code: 101,
    scope: 'request',
    retryable: false,
    description: 'The HMAC signature does not verify with any key of the device.',
  },
  stale_request: {
    code: 102,
    scope: 'request',
    retryable: false,
    description: 'The request timestamp is outside the allowed tolerance (too old or in the future); sign it again.',
  },
  replayed_nonce: {
    code: 103,
    scope: 'request',
    retryable: false,
    description: 'This nonce was already used by the device inside the replay window.',
  },
  unknown_device: {
    code: 104,
    scope: 'request',
    retryable: false,
    description: 'No key of the hub may speak for this device id.',
  },
  bad_token: {
    code: 105,
    scope: 'request',
    retryable: false,
    description: 'The device bearer token is not a valid token of a known key.',
  },
  malformed_body: {
    code: 106,
    scope: 'request',
    retryable: false,
    description: 'The request body is not of the shape the route accepts (not JSON, wrong envelope, no frames).',
  },
  request_timeout: {
    code: 107,
    scope: 'request',
    retryable: true,
    description:
      'The request (headers and body) was not received within the request timeout (slow or stalled sender); answered 408 and closed.',
  },
  body_too_large: {
    code: 108,
    scope: 'request',
    retryable: false,
    description: "The request body (or its Content-Length) exceeds the route's limit; answered 413, not read further.",
  },
  // hub: the hub could not take the input now (the sender should retry), or failed on it (internal_error).
  overloaded: {
    code: 80,
    scope: 'hub',
    retryable: true,
    description: 'The hub is at its queue bound; retry after a pause.',
  },
  store_unavailable: {
    code: 81,
    scope: 'hub',
    retryable: true,
    description: 'The store could not commit; nothing was acknowledged, resend.',
  },
  shutting_down: {
    code: 82,
    scope: 'hub',
    retryable: true,
    description: 'The hub is closing; reconnect and resend what was not acknowledged.',
  },
  internal_error: {
    code: 83,
    scope: 'hub',
    retryable: false,
    description:
      'The hub failed while handling this input (a defect, logged and kept as a dead letter); nothing of it was acknowledged, and resending it unchanged will fail the same way.',
  },
  state_unavailable: {
    code: 84,
    scope: 'hub',
    retryable: true,
    description:
      'The shared state several hubs keep their replay and nonce windows in (Redis) could not be reached, so the input could not be checked for replay; nothing was accepted or acknowledged, resend later.',
  },
} as const satisfies Record<string, ReasonInfo>;

export type ReasonCode = keyof typeof REASONS;

const byNumber = new Map<number, ReasonCode>(
  (Object.keys(REASONS) as ReasonCode[]).map((reason) => [REASONS[reason].code, reason]),
);

export function reasonFromNumber(code: number): ReasonCode | undefined {
  return byNumber.get(code);
}

export function isReasonCode(value: string): value is ReasonCode {
  return Object.prototype.hasOwnProperty.call(REASONS, value);
}

/** A refusal as a value: a reason code plus a human-readable detail that never contains secrets. */
export interface Rejection {
  readonly ok: false;
  readonly reason: ReasonCode;
  readonly detail: string;
}

export function reject(reason: ReasonCode, detail: string = REASONS[reason].description): Rejection {
  return { ok: false, reason, detail };
}
