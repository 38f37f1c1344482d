/**
 * How the emitter's MQTT link packs frames into messages: by count and by bytes, so no message exceeds
 * the hub's bound (the broker would drop it unseen and its frames would never be answered).
 */
import { describe, expect, it } from 'vitest';
import { batchFrames } from '../src/mqtt-link.js';

const frame = (bytes: number): Buffer => Buffer.alloc(bytes);

describe('batchFrames', () => {
  it('packs up to the frame count', () => {
    const batches = batchFrames([frame(1), frame(1), frame(1), frame(1), frame(1)], 2, 1000);
    expect(batches.map((batch) => batch.length)).toEqual([2, 2, 1]);
  });

  it('starts a new message before the byte bound, keeping the order', () => {
    const frames = [frame(400), frame(400), frame(300), frame(900), frame(50)];
    const batches = batchFrames(frames, 16, 1000);
    expect(batches.map((batch) => batch.map((f) => f.length))).toEqual([[400, 400], [300], [900, 50]]);
  });

  it('sends a frame over the byte bound alone', () => {
    const batches = batchFrames([frame(10), frame(2000), frame(10)], 16, 1000);
    expect(batches.map((batch) => batch.map((f) => f.length))).toEqual([[10], [2000], [10]]);
  });
});
