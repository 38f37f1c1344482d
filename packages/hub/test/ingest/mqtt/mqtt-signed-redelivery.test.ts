/**
 * Signed MQTT messages and the shared nonce window (Redis, here a window in memory that can answer too
 * late): a message answered state_unavailable because the window timed out after recording its nonce is
 * not refused replayed_nonce when the broker hands it out again (DUP), and its nonce is forgotten in the
 * window when that can be reached; a fresh publish of a taken nonce is still a replay.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequestHex } from '../../../src/ingest/http/hmac-signature.js';
import { handleSignedMessage, type MqttSignedSettings } from '../../../src/ingest/mqtt/mqtt-signed.js';
import { StaticKeyring } from '../../../src/pipeline/keyring.js';
import { NonceWindow } from '../../../src/pipeline/nonce-window.js';
import type { SharedReplayWindow } from '../../../src/pipeline/shared-state-ports.js';
import { startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const SECRET = randomBytes(32);
const TOPIC = 'sealstream/test/signed';

describe('signed MQTT messages and a shared nonce window that answered too late', () => {
  let harness: IngestHarness;
  let late = false;
  const sharedIds = new Set<string>();
  const shared: SharedReplayWindow = {
    firstSightings: (ids) => {
      const fresh = ids.map((id) => !sharedIds.has(id));
      for (const id of ids) sharedIds.add(id);
      return late ? Promise.reject(new Error('timed out')) : Promise.resolve(fresh);
    },
    forget: (ids) => {
      if (late) return Promise.reject(new Error('unreachable'));
      for (const id of ids) sharedIds.delete(id);
      return Promise.resolve();
    },
  };
  let settings: MqttSignedSettings;

  beforeAll(async () => {
    harness = await startIngestHarness({ keys: [{ keyId: 'mq', secret: SECRET, devices: 'any' }] });
    settings = {
      pipeline: harness.pipeline,
      keys: new StaticKeyring([{ keyId: 'mq', secret: SECRET, devices: 'any' }]),
      nonces: new NonceWindow(300_000, 10_000),
      sharedNonces: shared,
      signatureToleranceMs: 300_000,
      maxReadingsPerMessage: 100,
      maxMessageBytes: 1_048_576,
      now: Date.now,
    };
  });

  afterAll(async () => {
    await harness?.stop();
  });

  function signed(device: string, seq: number): { payload: Buffer; properties: Record<string, string> } {
    const payload = Buffer.from(JSON.stringify({ readings: [{ seq, ts: Date.now(), data: { v: seq } }] }));
    const headers = { deviceId: device, nonce: randomBytes(16).toString('hex'), timestamp: String(Date.now()) };
    return {
      payload,
      properties: {
        'x-device-id': headers.deviceId,
        'x-timestamp': headers.timestamp,
        'x-nonce': headers.nonce,
        'x-hmac-signature': signRequestHex(SECRET, headers, payload),
      },
    };
  }

  it('submits a broker redelivery whose nonce a slow Redis recorded while the hub answered state_unavailable', async () => {
    const message = signed('mq-late', 1);
    late = true;
    const first = await handleSignedMessage(settings, TOPIC, message.payload, message.properties);
    expect(first.answer).toMatchObject({ outcome: 'error', reason: 'state_unavailable', retryable: true });
    late = false;
    const again = await handleSignedMessage(settings, TOPIC, message.payload, message.properties, true);
    expect(again.answer).toEqual({ outcome: 'ack', accepted: 1, duplicates: 0, rejected: 0 });
    expect((await harness.readings('mq-late')).map((row) => row.seq)).toEqual([1]);
  });

  it('forgets the nonce in the shared window when it can, so the device may send the same message again', async () => {
    const message = signed('mq-late-2', 1);
    let calls = 0;
    const original = shared.firstSightings;
    // Records, then fails once: the forget that follows reaches the window.
    shared.firstSightings = (ids) => {
      calls += 1;
      for (const id of ids) sharedIds.add(id);
      return calls === 1 ? Promise.reject(new Error('timed out')) : original(ids);
    };
    try {
      const first = await handleSignedMessage(settings, TOPIC, message.payload, message.properties);
      expect(first.answer).toMatchObject({ outcome: 'error', reason: 'state_unavailable' });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      shared.firstSightings = original;
    }
    const again = await handleSignedMessage(settings, TOPIC, message.payload, message.properties);
    expect(again.answer).toEqual({ outcome: 'ack', accepted: 1, duplicates: 0, rejected: 0 });
  });

  it('still refuses a fresh publish of a nonce another hub took', async () => {
    const message = signed('mq-replay', 1);
    sharedIds.add(`mq-replay:${message.properties['x-nonce']}`);
    const answer = await handleSignedMessage(settings, TOPIC, message.payload, message.properties);
    expect(answer.answer).toMatchObject({ outcome: 'error', reason: 'replayed_nonce' });
  });
});
