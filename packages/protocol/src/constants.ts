/**
 * Wire constants of the native sealed frame: version, size limits, frame-type and cipher-suite numbers,
 * and the per-suite IV/tag lengths every encoder and decoder must agree on.
 */

export const PROTOCOL_VERSION = 1;
export const DEFAULT_MAX_FRAME_BYTES = 1_048_576;
export const HARD_MAX_FRAME_BYTES = 16 * 1_048_576;
export const DEFAULT_MAX_READINGS_PER_FRAME = 10_000;

export const FrameType = { Data: 1, Ack: 2, Error: 3, Ping: 4, Pong: 5, Close: 6 } as const;
export type FrameTypeNumber = (typeof FrameType)[keyof typeof FrameType];

export const CipherSuite = { Aes256Gcm: 1, Aes256CtrHmacSha256: 2 } as const;
export type CipherSuiteNumber = (typeof CipherSuite)[keyof typeof CipherSuite];

export interface SuiteLayout {
  readonly ivBytes: number;
  readonly tagBytes: number;
}

/** Indexed by suite number; a suite missing here is unknown on the wire. */
export const SUITE_LAYOUT: Readonly<Record<number, SuiteLayout | undefined>> = {
  [CipherSuite.Aes256Gcm]: { ivBytes: 12, tagBytes: 16 },
  [CipherSuite.Aes256CtrHmacSha256]: { ivBytes: 16, tagBytes: 32 },
};

/** Bytes of the length prefix in front of every frame body. */
export const LENGTH_PREFIX_BYTES = 4;
/** version + type: the smallest legal body. */
export const MIN_BODY_BYTES = 2;
/** suite + frameId + sentAt + keyIdLen, the fixed part of a DATA payload before the key id. */
export const DATA_FIXED_PAYLOAD_BYTES = 1 + 4 + 8 + 1;
export const MAX_KEY_ID_BYTES = 64;
/** ERROR messages are cut to this many UTF-8 bytes so an ERROR frame stays small. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;
/** Fatal decode results carry at most this many bytes of the offending input (enough to diagnose, bounded). */
export const RAW_SAMPLE_BYTES = 256;

export const KEY_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
export const DEVICE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** Byte lookup for key-id characters, so the decoder checks ids without building a string first. */
export const KEY_ID_BYTE_ALLOWED: Uint8Array = (() => {
  const table = new Uint8Array(256);
  const allowed = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-';
  for (let i = 0; i < allowed.length; i++) table[allowed.charCodeAt(i)] = 1;
  return table;
})();
