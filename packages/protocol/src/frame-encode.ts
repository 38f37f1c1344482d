/** Encoders for the control frames (ACK, ERROR, PING, PONG, CLOSE); DATA frames are built by seal.ts. */
import { FrameType, LENGTH_PREFIX_BYTES, MAX_ERROR_MESSAGE_BYTES, PROTOCOL_VERSION } from './constants.js';
import type { AckFrame } from './frame-types.js';
import { ProtocolError } from './errors.js';
import { REASONS, isReasonCode, type ReasonCode } from './reasons.js';
import { assertU16, assertU32, assertU64 } from './wire-checks.js';

const PAYLOAD_OFFSET = LENGTH_PREFIX_BYTES + 2;

/** A frame buffer with length prefix, version and type written; the caller fills the payload at PAYLOAD_OFFSET. */
function startFrame(type: number, payloadBytes: number): Buffer {
  const frame = Buffer.allocUnsafe(PAYLOAD_OFFSET + payloadBytes);
  frame.writeUInt32BE(2 + payloadBytes, 0);
  frame[LENGTH_PREFIX_BYTES] = PROTOCOL_VERSION;
  frame[LENGTH_PREFIX_BYTES + 1] = type;
  return frame;
}

export function encodeAck(ack: Omit<AckFrame, 'type'>): Buffer {
  assertU32('frameId', ack.frameId);
  assertU32('accepted', ack.accepted);
  assertU32('duplicates', ack.duplicates);
  assertU32('rejected', ack.rejected);
  const frame = startFrame(FrameType.Ack, 16);
  frame.writeUInt32BE(ack.frameId, PAYLOAD_OFFSET);
  frame.writeUInt32BE(ack.accepted, PAYLOAD_OFFSET + 4);
  frame.writeUInt32BE(ack.duplicates, PAYLOAD_OFFSET + 8);
  frame.writeUInt32BE(ack.rejected, PAYLOAD_OFFSET + 12);
  return frame;
}

/** Cut at a UTF-8 character boundary so a long message never ends in half a character. */
function utf8Prefix(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

export function encodeError(frameId: number, reason: ReasonCode, message: string): Buffer {
  assertU32('frameId', frameId);
  if (!isReasonCode(reason)) throw new ProtocolError('malformed_frame', 'unknown reason code');
  const text = utf8Prefix(message, MAX_ERROR_MESSAGE_BYTES);
  const frame = startFrame(FrameType.Error, 8 + text.length);
  frame.writeUInt32BE(frameId, PAYLOAD_OFFSET);
  frame.writeUInt16BE(REASONS[reason].code, PAYLOAD_OFFSET + 4);
  frame.writeUInt16BE(text.length, PAYLOAD_OFFSET + 6);
  text.copy(frame, PAYLOAD_OFFSET + 8);
  return frame;
}

function encodeNonceFrame(type: number, nonce: bigint): Buffer {
  assertU64('nonce', nonce);
  const frame = startFrame(type, 8);
  frame.writeBigUInt64BE(nonce, PAYLOAD_OFFSET);
  return frame;
}

export function encodePing(nonce: bigint): Buffer {
  return encodeNonceFrame(FrameType.Ping, nonce);
}

export function encodePong(nonce: bigint): Buffer {
  return encodeNonceFrame(FrameType.Pong, nonce);
}

/** code 0 = normal close; otherwise a reason's numeric code. */
export function encodeClose(code = 0): Buffer {
  assertU16('code', code);
  const frame = startFrame(FrameType.Close, 2);
  frame.writeUInt16BE(code, PAYLOAD_OFFSET);
  return frame;
}
