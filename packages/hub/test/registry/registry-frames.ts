/** Test helpers: seal readings with an issued device secret and push the frame through a pipeline. */
import { deriveDeviceKey, FrameDecoder, sealReadings, type DataFrame, type Reading } from '@sealstream/protocol';
import type { FrameAnswer, Pipeline } from '../../src/pipeline/pipeline.js';

let frameId = 0;

export function sealedFrame(
  keyId: string,
  secretHex: string,
  readings: readonly Reading[],
  sentAt: number = Date.now(),
): DataFrame {
  frameId += 1;
  const bytes = sealReadings([...readings], deriveDeviceKey(Buffer.from(secretHex, 'hex')), {
    suite: 1,
    keyId,
    frameId,
    sentAt,
  });
  const [item] = new FrameDecoder().push(bytes);
  if (item === undefined || !item.ok || item.frame.type !== 1) throw new Error('test frame did not decode');
  return item.frame;
}

export function readingsOf(device: string, fromSeq: number, count: number, ts: number = Date.now()): Reading[] {
  return Array.from({ length: count }, (_, i) => ({ device, seq: fromSeq + i, ts, data: { v: i } }));
}

export function send(
  pipeline: Pipeline,
  keyId: string,
  secretHex: string,
  readings: readonly Reading[],
  sentAt?: number,
): Promise<FrameAnswer> {
  return pipeline.handleDataFrame(sealedFrame(keyId, secretHex, readings, sentAt), 'tcp', 'test-peer');
}
