/** Public surface of @sealstream/protocol: every codec, type and constant other packages may use. */
export {
  REASONS,
  reject,
  reasonFromNumber,
  isReasonCode,
  type ReasonCode,
  type ReasonInfo,
  type Rejection,
} from './reasons.js';
export type { Reading, LegacyMessage } from './reading.types.js';
export * from './live-events.types.js';
export {
  PROTOCOL_VERSION,
  DEFAULT_MAX_FRAME_BYTES,
  HARD_MAX_FRAME_BYTES,
  DEFAULT_MAX_READINGS_PER_FRAME,
  DEVICE_ID_PATTERN,
  KEY_ID_PATTERN,
  FrameType,
  CipherSuite,
  type FrameTypeNumber,
  type CipherSuiteNumber,
} from './constants.js';
export { deriveDeviceKey, parseSecretHex, type DeviceKey } from './keys.js';
export type { DataFrame, AckFrame, ErrorFrame, PingFrame, PongFrame, CloseFrame, Frame } from './frame-types.js';
export { encodeAck, encodeError, encodePing, encodePong, encodeClose } from './frame-encode.js';
export { sealReadings, openDataFrame, type SealOptions, type OpenResult } from './seal.js';
export { FrameDecoder, type FrameDecoderOptions, type DecodeItem } from './frame-decoder.js';
export {
  validateReading,
  numericMetrics,
  forEachNumericMetric,
  MAX_METRIC_NAME_LENGTH,
  type ReadingCheck,
} from './reading.js';
export {
  legacyKey,
  legacySecretKey,
  sealLegacyToken,
  openLegacyToken,
  openLegacyTokens,
  type LegacyHashVariant,
  type LegacyOpenResult,
} from './legacy-token.js';
export {
  openLegacyLine,
  legacyLineTokenCount,
  type LegacyLineOpening,
  type LegacyLineResult,
} from './legacy-line-open.js';
export {
  encodeLegacyAuthLine,
  encodeLegacyDataLine,
  LEGACY_AUTH_OK,
  LEGACY_AUTH_FAIL,
  parseLegacyLine,
  LineSplitter,
  type LegacyLine,
  type LineItem,
  type ByteLineItem,
  type LineSplitterOptions,
} from './legacy-lines.js';
export {
  deviceToken,
  parseDeviceToken,
  deviceTokenMatches,
  DEVICE_TOKEN_PREFIX,
  DEVICE_TOKEN_CONTEXT,
} from './device-token.js';
export { SealstreamError, isSealstreamError, ProtocolError } from './errors.js';
export { isStorableText, storableText, findUnstorableJson } from './storable-text.js';
