/** The answer a QoS 0 message of frames gets when it reaches a hub that is shutting down. */
import { describe, expect, it } from 'vitest';
import { deriveDeviceKey, FrameDecoder, FrameType, sealReadings, type Frame } from '@sealstream/protocol';
import { shuttingDownAnswer } from '../../../src/ingest/mqtt/mqtt-frames.js';

const LIMITS = { maxFrameBytes: 1 << 20, maxMessageBytes: 1 << 20 };
const KEY = deriveDeviceKey(Buffer.alloc(32, 3));

function decoded(bytes: Buffer | null): Frame[] {
  if (bytes === null) return [];
  const decoder = new FrameDecoder();
  return [...decoder.push(bytes), ...decoder.end()].flatMap((item) => (item.ok ? [item.frame] : []));
}

describe('shuttingDownAnswer', () => {
  it('answers every DATA frame of the message ERROR shutting_down under its own frameId', () => {
    const frame = (frameId: number): Buffer =>
      sealReadings([{ device: 'd', seq: frameId, ts: Date.now(), data: { v: 1 } }], KEY, {
        suite: 1,
        keyId: 'k',
        frameId,
      });
    const answers = decoded(shuttingDownAnswer(LIMITS, Buffer.concat([frame(3), frame(4)])));
    expect(answers.map((answer) => [answer.type, 'frameId' in answer ? answer.frameId : null])).toEqual([
      [FrameType.Error, 3],
      [FrameType.Error, 4],
    ]);
    expect(answers.every((answer) => answer.type === FrameType.Error && answer.reason === 'shutting_down')).toBe(true);
  });

  it('has nothing to say about a payload that names no frame', () => {
    expect(shuttingDownAnswer(LIMITS, Buffer.alloc(0))).toBeNull();
    expect(shuttingDownAnswer(LIMITS, Buffer.from([0xff, 0xff, 0xff, 0xff, 1]))).toBeNull();
  });
});
