/**
 * Parsing one complete frame (length prefix already honoured) into a typed Frame. DATA frames are returned
 * as views into `raw` (no copies); control frames become plain values. Bodies that do not fit their type
 * are rejections, not exceptions.
 */
import {
  DATA_FIXED_PAYLOAD_BYTES,
  FrameType,
  KEY_ID_BYTE_ALLOWED,
  LENGTH_PREFIX_BYTES,
  MAX_KEY_ID_BYTES,
  PROTOCOL_VERSION,
  SUITE_LAYOUT,
} from './constants.js';
import type { DataFrame, Frame } from './frame-types.js';
import { reasonFromNumber, reject, type Rejection } from './reasons.js';

const PAYLOAD = 2; // offset of the payload inside the body
const EMPTY = Buffer.alloc(0);
/** sentAt is a u64 on the wire but must be a safe integer in JS: the high word may use at most 21 bits. */
const MAX_SAFE_HIGH_WORD = 0x1f_ffff;

function malformed(detail: string): Rejection {
  return reject('malformed_frame', detail);
}

function parseData(body: Buffer, raw: Buffer): DataFrame | Rejection {
  if (body.length < PAYLOAD + DATA_FIXED_PAYLOAD_BYTES) return malformed('DATA body shorter than its fixed fields');
  const suite = body[2] as number;
  const frameId = body.readUInt32BE(3);
  const sentAtHigh = body.readUInt32BE(7);
  if (sentAtHigh > MAX_SAFE_HIGH_WORD) return malformed('DATA sentAt exceeds 2^53-1');
  const sentAt = sentAtHigh * 0x1_0000_0000 + body.readUInt32BE(11);
  const keyIdBytes = body[15] as number;
  if (keyIdBytes < 1 || keyIdBytes > MAX_KEY_ID_BYTES) return malformed('DATA keyId length must be 1..64');
  const keyIdEnd = 16 + keyIdBytes;
  if (body.length < keyIdEnd) return malformed('DATA keyId runs past the end of the frame');
  for (let i = 16; i < keyIdEnd; i++) {
    if (KEY_ID_BYTE_ALLOWED[body[i] as number] !== 1) return malformed('DATA keyId has bytes outside [A-Za-z0-9._:-]');
  }
  const keyId = body.toString('latin1', 16, keyIdEnd);
  const layout = SUITE_LAYOUT[suite];
  if (layout === undefined) {
    // Still a DataFrame, so the receiver can name the key and frame when it refuses the suite (openDataFrame).
    return {
      type: FrameType.Data,
      suite,
      frameId,
      sentAt,
      keyId,
      header: body.subarray(0, keyIdEnd),
      iv: EMPTY,
      ciphertext: body.subarray(keyIdEnd),
      tag: EMPTY,
      raw,
    };
  }
  const ivEnd = keyIdEnd + layout.ivBytes;
  const tagStart = body.length - layout.tagBytes;
  if (tagStart < ivEnd) return malformed('DATA body too short for its IV and tag');
  return {
    type: FrameType.Data,
    suite,
    frameId,
    sentAt,
    keyId,
    header: body.subarray(0, ivEnd),
    iv: body.subarray(keyIdEnd, ivEnd),
    ciphertext: body.subarray(ivEnd, tagStart),
    tag: body.subarray(tagStart),
    raw,
  };
}

function expectPayload(body: Buffer, bytes: number, name: string): Rejection | undefined {
  return body.length - PAYLOAD === bytes ? undefined : malformed(`${name} payload must be exactly ${bytes} bytes`);
}

/** `raw` is one whole frame: length prefix plus exactly the body it announces. */
export function parseFrame(raw: Buffer): Frame | Rejection {
  const body = raw.subarray(LENGTH_PREFIX_BYTES);
  if (body.length < 2) return reject('frame_truncated', 'frame body shorter than version and type');
  if (body[0] !== PROTOCOL_VERSION) return reject('bad_version', `version ${String(body[0])} is not supported`);
  const type = body[1];
  switch (type) {
    case FrameType.Data:
      return parseData(body, raw);
    case FrameType.Ack:
      return (
        expectPayload(body, 16, 'ACK') ?? {
          type: FrameType.Ack,
          frameId: body.readUInt32BE(2),
          accepted: body.readUInt32BE(6),
          duplicates: body.readUInt32BE(10),
          rejected: body.readUInt32BE(14),
        }
      );
    case FrameType.Error: {
      if (body.length < PAYLOAD + 8) return malformed('ERROR body shorter than its fixed fields');
      const messageBytes = body.readUInt16BE(8);
      if (body.length !== PAYLOAD + 8 + messageBytes) return malformed('ERROR message length does not fit the frame');
      const code = body.readUInt16BE(6);
      return {
        type: FrameType.Error,
        frameId: body.readUInt32BE(2),
        code,
        reason: reasonFromNumber(code),
        message: body.toString('utf8', PAYLOAD + 8),
      };
    }
    case FrameType.Ping:
      return expectPayload(body, 8, 'PING') ?? { type: FrameType.Ping, nonce: body.readBigUInt64BE(2) };
    case FrameType.Pong:
      return expectPayload(body, 8, 'PONG') ?? { type: FrameType.Pong, nonce: body.readBigUInt64BE(2) };
    case FrameType.Close:
      return expectPayload(body, 2, 'CLOSE') ?? { type: FrameType.Close, code: body.readUInt16BE(2) };
    default:
      return reject('unknown_frame_type', `frame type ${String(type)} is not known`);
  }
}

export function isKnownFrameType(type: number): boolean {
  return type >= FrameType.Data && type <= FrameType.Close;
}
