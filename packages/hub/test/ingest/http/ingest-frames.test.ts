/**
 * POST /api/v1/ingest/frames over the real app, pipeline and PGlite store: sealed frames exactly as on
 * TCP, per-frame outcomes after commit, the same refusals and dead letters.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePing, type Reading } from '@sealstream/protocol';
import { HttpFramesClient } from '@sealstream/emitter';
import { post, startIngestHarness, type IngestHarness } from '../../support/ingest-harness.js';

const SECRET = randomBytes(32);
const OCTETS = { 'content-type': 'application/octet-stream' };

function readings(device: string, fromSeq: number, count: number): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({ device, seq: fromSeq + i, ts: now, data: { v: i } }));
}

let hub: IngestHarness;
let client: HttpFramesClient;
beforeAll(async () => {
  hub = await startIngestHarness({ keys: [{ keyId: 'gw-key', secret: SECRET, devices: 'any' }] });
  client = new HttpFramesClient({ baseUrl: hub.base, keyId: 'gw-key', secret: SECRET });
});
afterAll(async () => {
  await hub?.stop();
});

describe('POST /api/v1/ingest/frames', () => {
  it('stores good frames exactly once and answers per-frame acks after commit', async () => {
    const first = await client.send([readings('f-1', 0, 5), readings('f-2', 0, 3)]);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      frames: [
        { outcome: 'ack', frameId: 1, accepted: 5, duplicates: 0, rejected: 0 },
        { outcome: 'ack', frameId: 2, accepted: 3, duplicates: 0, rejected: 0 },
      ],
      accepted: 8,
      duplicates: 0,
      rejected: 0,
    });
    // Answered after commit: the rows are there now, not eventually.
    expect(await hub.readings('f-1')).toHaveLength(5);
    expect(await hub.readings('f-2')).toHaveLength(3);

    // A resend is re-sealed (fresh IV): its readings are duplicates, stored once.
    const resend = await client.send([readings('f-1', 0, 5)]);
    expect(resend.body).toMatchObject({ accepted: 0, duplicates: 5, rejected: 0 });
    const rows = await hub.readings('f-1');
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((row) => row.source))).toEqual(new Set(['http']));
  });

  it('refuses the same sealed bytes posted twice as replayed_frame', async () => {
    const frame = client.seal(readings('f-replay', 0, 2));
    expect((await client.postFrames([frame])).body).toMatchObject({ accepted: 2 });
    const again = await client.postFrames([frame]);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ frames: [{ outcome: 'error', reason: 'replayed_frame', retryable: false }] });
  });

  it('a tampered frame is integrity_failed, dead-lettered, and its neighbours are stored', async () => {
    const good = client.seal(readings('f-neighbour', 0, 4));
    const tampered = client.seal(readings('f-tampered', 0, 4));
    const at = tampered.length - 20;
    tampered[at] = (tampered[at] ?? 0) ^ 0x01;
    const answer = await post(hub.base, '/api/v1/ingest/frames', Buffer.concat([good, tampered]), OCTETS);
    expect(answer.status).toBe(200);
    expect(answer.body.frames?.[0]).toMatchObject({ outcome: 'ack', accepted: 4 });
    expect(answer.body.frames?.[1]).toMatchObject({ outcome: 'error', reason: 'integrity_failed' });
    expect(await hub.readings('f-neighbour')).toHaveLength(4);
    expect(await hub.readings('f-tampered')).toHaveLength(0);
    const letters = await hub.deadLetters('integrity_failed');
    expect(letters.length).toBeGreaterThanOrEqual(1);
    expect(letters[0]).toMatchObject({ source: 'http', reason: 'integrity_failed' });
    expect(Buffer.from(letters[0]?.raw ?? []).equals(tampered)).toBe(true);
  });

  it('a body that does not frame is 400 with a reason code, dead-lettered, and nothing in it is stored', async () => {
    const good = client.seal(readings('f-cut', 0, 2));
    const cut = Buffer.concat([good, good.subarray(0, 10)]);
    const answer = await post(hub.base, '/api/v1/ingest/frames', cut, OCTETS);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ code: 'bad_request', details: { reason: 'frame_truncated' } });
    expect(await hub.readings('f-cut')).toHaveLength(0);
    const letters = await hub.deadLetters('frame_truncated');
    expect(letters.some((letter) => Buffer.from(letter.raw).equals(cut))).toBe(true);

    const garbage = await post(hub.base, '/api/v1/ingest/frames', Buffer.from('hello, not a frame'), OCTETS);
    expect(garbage.status).toBe(400);
    expect(['frame_too_large', 'bad_version', 'frame_truncated']).toContain(garbage.body.error?.details?.reason);

    const empty = await post(hub.base, '/api/v1/ingest/frames', Buffer.alloc(0), OCTETS);
    expect(empty.status).toBe(400);
    expect(empty.body.error?.details?.reason).toBe('malformed_body');
  });

  it('refuses a body of more frames than the per-request bound as a whole (400), processing none', async () => {
    const pings = Buffer.concat(Array.from({ length: 1025 }, (_, i) => encodePing(BigInt(i))));
    const answer = await post(hub.base, '/api/v1/ingest/frames', pings, OCTETS);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({ details: { reason: 'malformed_body' } });
  });

  it('refuses non-DATA frames with a reason, per frame', async () => {
    const answer = await post(
      hub.base,
      '/api/v1/ingest/frames',
      Buffer.concat([encodePing(7n), client.seal(readings('f-ping', 0, 1))]),
      OCTETS,
    );
    expect(answer.status).toBe(200);
    expect(answer.body.frames?.[0]).toMatchObject({ outcome: 'error', reason: 'unknown_frame_type' });
    expect(answer.body.frames?.[1]).toMatchObject({ outcome: 'ack', accepted: 1 });
  });

  it('an unknown key is refused as unknown_key and counted under source http', async () => {
    const stranger = new HttpFramesClient({ baseUrl: hub.base, keyId: 'nobody', secret: randomBytes(32) });
    const answer = await stranger.send([readings('f-stranger', 0, 1)]);
    expect(answer.body).toMatchObject({ frames: [{ outcome: 'error', reason: 'unknown_key' }] });
    expect(await hub.metrics.registry.metrics()).toMatch(
      /sealstream_readings_rejected_total\{source="http",reason="unknown_key"\} [1-9]/,
    );
  });

  it('needs application/octet-stream (415 otherwise)', async () => {
    const frame = client.seal(readings('f-type', 0, 1));
    const answer = await post(hub.base, '/api/v1/ingest/frames', frame, { 'content-type': 'text/plain' });
    expect(answer.status).toBe(415);
    const asJson = await post(hub.base, '/api/v1/ingest/frames', frame, { 'content-type': 'application/json' });
    expect(asJson.status).toBe(415);
    expect(await hub.readings('f-type')).toHaveLength(0);
  });
});
