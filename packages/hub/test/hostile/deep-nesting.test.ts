/**
 * Readings nested thousands of levels deep. JSON.parse accepts them, the schema refuses them (data
 * depth), but re-encoding them for the dead letter or for a derived seq must not overflow the stack:
 * on TCP that was an unhandled rejection that ended the hub process, over HTTP a 500 that was neither
 * counted nor dead-lettered.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveDeviceKey, deviceToken, FrameDecoder, type DataFrame } from '@sealstream/protocol';
import { signRequestHex } from '../../src/ingest/http/hmac-signature.js';
import { post, startIngestHarness, type IngestHarness } from '../support/ingest-harness.js';
import { sealPlaintext } from './hostile-harness.js';

const SECRET = randomBytes(32);
const DEPTH = 20_000;
const deep = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;

let hub: IngestHarness;
beforeAll(async () => {
  hub = await startIngestHarness({ keys: [{ keyId: 'deep-key', secret: SECRET, devices: 'any' }] });
});
afterAll(async () => {
  await hub?.stop();
});

async function rejected(reason: string): Promise<number> {
  const text = await hub.metrics.registry.metrics();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`sealstream_readings_rejected_total{source="http",reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('deeply nested readings are refused, counted and dead-lettered', () => {
  it('inside a sealed frame (the TCP path): an ACK with one rejected reading, not a thrown error', async () => {
    const plaintext = Buffer.from(`[{"device":"deep-1","seq":1,"ts":${Date.now()},"data":{"a":${deep}}}]`);
    const bytes = sealPlaintext(plaintext, deriveDeviceKey(SECRET), { suite: 1, keyId: 'deep-key', frameId: 7 });
    const [item] = new FrameDecoder({ maxFrameBytes: 16 * 1024 * 1024 }).push(bytes);
    if (item === undefined || !item.ok) throw new Error('test frame does not decode');
    const answer = await hub.pipeline.handleDataFrame(item.frame as DataFrame, 'tcp', 'test');
    expect(answer).toMatchObject({ kind: 'ack', accepted: 0, duplicates: 0, rejected: 1 });
  });

  it('POST /ingest with a deep value or time: refused (400, never 2xx: nothing stored), and a dead letter', async () => {
    const token = deviceToken('deep-key', SECRET);
    const before = await rejected('schema_invalid');
    for (const body of [
      `{"device_id":"deep-2","time":${Date.now()},"value":${deep}}`,
      `{"device_id":"deep-2","seq":5,"time":${Date.now()},"value":${deep}}`,
      `{"device_id":"deep-2","value":1,"time":${deep}}`,
    ]) {
      const answer = await post(hub.base, '/ingest', body, {
        'content-type': 'application/json',
        authorization: `Bearer ${token}`,
      });
      expect(answer.status, body.slice(0, 60)).toBe(400);
      expect(answer.body.error?.details?.reason).toBe('schema_invalid');
    }
    expect((await rejected('schema_invalid')) - before).toBe(3);
    const letters = await hub.deadLetters('schema_invalid', 3);
    expect(letters.filter((letter) => letter.device === 'deep-2')).toHaveLength(3);
  });

  it('POST /api/v1/ingest/signed with deep data: 200 with the reading rejected', async () => {
    const body = Buffer.from(`{"readings":[{"seq":1,"ts":${Date.now()},"data":{"a":${deep}}}]}`);
    const headers = { deviceId: 'deep-3', nonce: randomBytes(16).toString('hex'), timestamp: String(Date.now()) };
    const answer = await post(hub.base, '/api/v1/ingest/signed', body, {
      'content-type': 'application/json',
      'x-device-id': headers.deviceId,
      'x-timestamp': headers.timestamp,
      'x-nonce': headers.nonce,
      'x-hmac-signature': signRequestHex(SECRET, headers, body),
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ accepted: 0, duplicates: 0, rejected: 1 });
  });
});
