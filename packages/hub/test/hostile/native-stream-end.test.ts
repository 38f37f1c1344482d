/**
 * How the hub ends a native TCP connection, seen from the device's side of a real in-process hub
 * (PGlite): the CLOSE frame's code names the reason that ended the stream (a fatal framing error, a
 * spent refusal budget, an idle or stalled sender; 0 only for a normal close), and once the refusal
 * budget is spent nothing decoded after the frame that spent it is handled, committed or answered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deriveDeviceKey,
  encodeClose,
  FrameType,
  REASONS,
  sealReadings,
  type CloseFrame,
  type ErrorFrame,
  type Frame,
  type ReasonCode,
  type Reading,
} from '@sealstream/protocol';
import { FrameClient } from '../support/frame-client.js';
import { startTestHub, TEST_KEY_ID, TEST_SECRET, type TestHub } from '../support/test-hub.js';
import { flipBit, sleep, watchRejected } from './hostile-harness.js';

const key = deriveDeviceKey(TEST_SECRET);

const isClose = (frame: Frame): frame is CloseFrame => frame.type === FrameType.Close;
const isError = (frame: Frame): frame is ErrorFrame => frame.type === FrameType.Error;

function readings(device: string, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ device, seq: i, ts: now, data: { t: 20 + i } }));
}

describe('native TCP: how the hub ends a connection', () => {
  let hub: TestHub;
  const clients: FrameClient[] = [];

  beforeAll(async () => {
    hub = await startTestHub('pglite', ['--partial-frame-timeout-ms', '300', '--idle-timeout-ms', '1000']);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await hub?.stop();
  });

  async function open(): Promise<FrameClient> {
    const client = await FrameClient.open(hub.hub.ports.tcp ?? 0);
    clients.push(client);
    return client;
  }

  /** The connection ended with the ERROR about the stream and, last, a CLOSE carrying the same reason. */
  async function expectEndedWith(client: FrameClient, reason: ReasonCode): Promise<void> {
    await client.waitClosed();
    const close = client.frames.find(isClose);
    expect(close?.code, `CLOSE code after ${reason}`).toBe(REASONS[reason].code);
    const last = client.frames.at(-1);
    expect(last?.type).toBe(FrameType.Close);
    const reported = client.frames.some(
      (frame) => frame.type === FrameType.Error && frame.frameId === 0 && frame.code === REASONS[reason].code,
    );
    expect(reported, `ERROR ${reason} about the stream`).toBe(true);
  }

  it('a fatal framing error ends with CLOSE(code of its reason), never CLOSE(0)', async () => {
    const cases: Array<{ bytes: Buffer; reason: ReasonCode }> = [
      { bytes: Buffer.from([0, 0, 0, 10, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'bad_version' },
      { bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 1]), reason: 'frame_too_large' },
      { bytes: Buffer.from([0, 0, 0, 10, 1, 99, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'unknown_frame_type' },
    ];
    for (const { bytes, reason } of cases) {
      const client = await open();
      client.write(bytes);
      await expectEndedWith(client, reason);
    }
  });

  it('a sender that stalls mid-frame or goes silent ends with CLOSE(idle_timeout)', async () => {
    const stalled = await open();
    stalled.write(Buffer.from([0, 0, 0, 40, 1, 1])); // a frame that never completes
    await expectEndedWith(stalled, 'idle_timeout');

    const silent = await open();
    await expectEndedWith(silent, 'idle_timeout');
  });

  it('a spent refusal budget ends with CLOSE(too_many_refusals)', async () => {
    const client = await open();
    const forged = (frameId: number): Buffer =>
      flipBit(sealReadings(readings('close-budget', 2), key, { suite: 1, keyId: TEST_KEY_ID, frameId }), -1);
    client.write(Buffer.concat(Array.from({ length: 17 }, (_, i) => forged(i + 1))));
    await expectEndedWith(client, 'too_many_refusals');
  });

  it("a device's own CLOSE is still answered CLOSE(0)", async () => {
    const client = await open();
    client.write(encodeClose(0));
    await client.waitClosed();
    expect(client.frames.filter(isClose).map((frame) => frame.code)).toEqual([0]);
  });

  it('frames decoded after the one that spent the budget are neither handled, committed nor answered', async () => {
    const refused = await watchRejected(hub, 'tcp', 'integrity_failed');
    const device = 'after-budget';
    const forged = (frameId: number): Buffer =>
      flipBit(sealReadings(readings('forged-budget', 2), key, { suite: 1, keyId: TEST_KEY_ID, frameId }), -1);
    // 16 refusals are allowed before an authentic frame; the 17th spends the budget. An authentic frame
    // and another forged one follow in the same write (one data chunk on loopback).
    const client = await open();
    client.write(
      Buffer.concat([
        ...Array.from({ length: 17 }, (_, i) => forged(i + 1)),
        sealReadings(readings(device, 3), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 50 }),
        forged(51),
      ]),
    );
    await expectEndedWith(client, 'too_many_refusals');
    await sleep(300); // a commit of the authentic frame, had it been taken, would have landed by now

    // Each refused frame answered in order, then the budget's ERROR, then CLOSE: nothing about 50 or 51.
    const errors = client.frames.filter(isError);
    expect(errors.map((frame) => frame.frameId)).toEqual([...Array.from({ length: 17 }, (_, i) => i + 1), 0]);
    expect(errors.at(-1)?.code).toBe(REASONS.too_many_refusals.code);
    expect(client.frames.some((frame) => frame.type === FrameType.Ack)).toBe(false);
    expect(await refused.added()).toBe(17);
    expect(await hub.hub.store.readings(device, 0, Date.now() + 60_000, 100)).toHaveLength(0);
  });
});
