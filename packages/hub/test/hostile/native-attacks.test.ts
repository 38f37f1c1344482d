/**
 * Hostile input on the native TCP port, against a real in-process hub (PGlite, and the PostgreSQL
 * server when it answers). Every attack must be refused with its reason code (ERROR frame), counted in
 * sealstream_readings_rejected_total{reason}, kept as a bounded dead letter, store nothing forged —
 * and a well-behaved device streaming at the same time must have every reading acknowledged and stored.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CipherSuite,
  deriveDeviceKey,
  encodeAck,
  FrameType,
  REASONS,
  sealReadings,
  type AckFrame,
  type ErrorFrame,
  type Frame,
  type ReasonCode,
  type Reading,
} from '@sealstream/protocol';
import { FrameClient } from '../support/frame-client.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';
import {
  DEVICE_KEY_ID,
  DEVICE_SECRET,
  startTestHub,
  TEST_KEY_ID,
  TEST_SECRET,
  type StoreKind,
  type TestHub,
} from '../support/test-hub.js';
import {
  flipBit,
  GoodTraffic,
  sealPlaintext,
  seededBytes,
  sleep,
  waitUntil,
  watchRejected,
} from './hostile-harness.js';

const RAW_LIMIT = 512;
const HUB_ARGS = [
  '--dead-letter-raw-bytes',
  String(RAW_LIMIT),
  '--partial-frame-timeout-ms',
  '500',
  '--max-readings-per-frame',
  '200',
];
const key = deriveDeviceKey(TEST_SECRET);

const isError =
  (code: number) =>
  (frame: Frame): frame is ErrorFrame =>
    frame.type === FrameType.Error && frame.code === code;
const isAck =
  (frameId: number) =>
  (frame: Frame): frame is AckFrame =>
    frame.type === FrameType.Ack && frame.frameId === frameId;

function readings(device: string, count: number, fromSeq = 0): Reading[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: fromSeq + i,
    ts: now,
    data: { t: 20 + i, label: 'x'.repeat(20) },
  }));
}

const postgres = await pgAvailability();
const stores: Array<{ kind: StoreKind; skip: string | null }> = [
  { kind: 'pglite', skip: null },
  { kind: 'postgres', skip: postgres.available ? null : postgres.reason },
];

for (const { kind, skip } of stores) {
  describe.skipIf(skip !== null)(`native hostile input on ${kind}${skip === null ? '' : ` (skipped: ${skip})`}`, () => {
    let hub: TestHub;
    let good: GoodTraffic | undefined;
    const attackers: FrameClient[] = [];
    /** Taken at connect time: a closed socket no longer knows its local port. */
    const peers = new WeakMap<FrameClient, string>();

    beforeAll(async () => {
      failIfRequired(postgres);
      hub = await startTestHub(kind, HUB_ARGS);
    });
    afterEach(() => {
      good?.destroy();
      good = undefined;
      for (const client of attackers.splice(0)) client.close();
    });
    afterAll(async () => {
      await hub?.stop();
    });

    async function attacker(): Promise<FrameClient> {
      const client = await FrameClient.open(hub.hub.ports.tcp ?? 0);
      attackers.push(client);
      peers.set(client, `127.0.0.1:${client.socket.localPort ?? 0}`);
      return client;
    }

    /** Runs `attack` while a good device streams, then proves the good device lost nothing. */
    async function duringGoodTraffic(attack: () => Promise<void>): Promise<void> {
      good = new GoodTraffic(hub, `good-${randomBytes(4).toString('hex')}`, 1000, { maxReadingsPerFrame: 100 });
      await sleep(50);
      await attack();
      await good.finish();
      good = undefined;
    }

    /** The dead letters of one attacking connection (the hub records the peer's address and port). */
    async function lettersOf(client: FrameClient, reason: ReasonCode, count: number) {
      const peer = peers.get(client) ?? 'unknown';
      let rows: Awaited<ReturnType<typeof hub.hub.store.recentDeadLetters>> = [];
      await waitUntil(async () => {
        rows = (await hub.hub.store.recentDeadLetters(2000)).filter((r) => r.peer === peer && r.reason === reason);
        return rows.length >= count;
      }, `${count} ${reason} dead letter(s) from ${peer}`);
      expect(rows).toHaveLength(count);
      for (const row of rows) expect(row.raw.byteLength).toBeLessThanOrEqual(RAW_LIMIT);
      return rows;
    }

    async function storedCount(device: string): Promise<number> {
      return (await hub.hub.store.readings(device, 0, Date.now() + 60_000, 10_000)).length;
    }

    it('bit flips in ciphertext, tag and authenticated header of each suite: integrity_failed, nothing stored', async () => {
      await duringGoodTraffic(async () => {
        const counter = await watchRejected(hub, 'tcp', 'integrity_failed');
        const client = await attacker();
        const device = `flipped-${kind}`;
        let sent = 0;
        for (const suite of [CipherSuite.Aes256Gcm, CipherSuite.Aes256CtrHmacSha256]) {
          const frame = sealReadings(readings(device, 30), key, { suite, keyId: TEST_KEY_ID, frameId: 1000 + suite });
          const keyIdEnd = 4 + 16 + TEST_KEY_ID.length;
          const targets = [
            keyIdEnd + 20 + 3, // inside the ciphertext
            Math.floor(frame.length / 2),
            -1, // last tag byte
            -(suite === CipherSuite.Aes256Gcm ? 16 : 32), // first tag byte
            4 + 14, // low byte of sentAt (authenticated; a 1-bit change stays inside the clock-skew window)
            keyIdEnd + 1, // inside the IV
            4 + 16, // first key id byte: 't' -> 'u', an unknown key id
          ];
          for (const [index, target] of targets.entries()) {
            client.write(flipBit(frame, target, index % 8 === 0 ? 0 : index % 8));
            sent += 1;
          }
        }
        await waitUntil(
          () => client.frames.filter((f) => f.type === FrameType.Error).length >= sent,
          'an ERROR per forged frame',
        );
        const errors = client.frames.filter((f): f is ErrorFrame => f.type === FrameType.Error);
        const unknownKey = errors.filter((e) => e.code === REASONS.unknown_key.code).length;
        expect(unknownKey).toBe(2); // the key-id flips
        expect(errors.filter((e) => e.code === REASONS.integrity_failed.code)).toHaveLength(sent - 2);
        expect(await counter.added()).toBe(sent - 2);
        const letters = await lettersOf(client, 'integrity_failed', sent - 2);
        expect(letters.every((l) => l.truncated)).toBe(true); // 30 readings seal to more than RAW_LIMIT bytes
        expect(client.closed).toBe(false); // a forged frame is refused alone; the stream goes on
        expect(await storedCount(device)).toBe(0);
      });
    });

    it('wrong secret under a known key id, an unknown key id and an unknown suite are refused', async () => {
      await duringGoodTraffic(async () => {
        const integrity = await watchRejected(hub, 'tcp', 'integrity_failed');
        const unknownKey = await watchRejected(hub, 'tcp', 'unknown_key');
        const unknownSuite = await watchRejected(hub, 'tcp', 'unknown_suite');
        const client = await attacker();
        const device = `wrongkey-${kind}`;
        const other = deriveDeviceKey(randomBytes(32));
        client.write(sealReadings(readings(device, 3), other, { suite: 1, keyId: TEST_KEY_ID, frameId: 1 }));
        client.write(sealReadings(readings(device, 3), other, { suite: 2, keyId: 'nobody-knows-me', frameId: 2 }));
        const suiteNine = sealReadings(readings(device, 3), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 3 });
        suiteNine[4 + 2] = 9;
        client.write(suiteNine);
        expect((await client.waitFor(isError(REASONS.integrity_failed.code))).frameId).toBe(1);
        expect((await client.waitFor(isError(REASONS.unknown_key.code))).frameId).toBe(2);
        expect((await client.waitFor(isError(REASONS.unknown_suite.code))).frameId).toBe(3);
        expect([await integrity.added(), await unknownKey.added(), await unknownSuite.added()]).toEqual([1, 1, 1]);
        await lettersOf(client, 'integrity_failed', 1);
        await lettersOf(client, 'unknown_key', 1);
        await lettersOf(client, 'unknown_suite', 1);
        expect(await storedCount(device)).toBe(0);
      });
    });

    it('a byte-identical replay of a captured frame is replayed_frame and stores nothing twice', async () => {
      await duringGoodTraffic(async () => {
        const counter = await watchRejected(hub, 'tcp', 'replayed_frame');
        const device = `replay-${kind}`;
        const captured = sealReadings(readings(device, 10), key, { suite: 2, keyId: TEST_KEY_ID, frameId: 5 });
        const first = await attacker();
        first.write(captured);
        expect(await first.waitFor(isAck(5))).toMatchObject({ accepted: 10 });
        // The attacker replays from another connection, and again on the same one.
        const second = await attacker();
        second.write(captured);
        first.write(captured);
        expect((await second.waitFor(isError(REASONS.replayed_frame.code))).frameId).toBe(5);
        await first.waitFor(isError(REASONS.replayed_frame.code));
        expect(await counter.added()).toBe(2);
        await lettersOf(second, 'replayed_frame', 1);
        await lettersOf(first, 'replayed_frame', 1);
        expect(await storedCount(device)).toBe(10);
      });
    });

    it('a frame sent outside the clock-skew window is stale_frame', async () => {
      await duringGoodTraffic(async () => {
        const counter = await watchRejected(hub, 'tcp', 'stale_frame');
        const client = await attacker();
        const device = `stale-${kind}`;
        const old = Date.now() - 3_600_000;
        client.write(sealReadings(readings(device, 2), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 9, sentAt: old }));
        expect((await client.waitFor(isError(REASONS.stale_frame.code))).frameId).toBe(9);
        expect(await counter.added()).toBe(1);
        await lettersOf(client, 'stale_frame', 1);
        expect(await storedCount(device)).toBe(0);
      });
    });

    it('authentic frames with malformed JSON, non-arrays, empty arrays or too many readings are refused', async () => {
      await duringGoodTraffic(async () => {
        const badPayload = await watchRejected(hub, 'tcp', 'bad_payload');
        const tooMany = await watchRejected(hub, 'tcp', 'too_many_readings');
        const client = await attacker();
        const device = `payload-${kind}`;
        const plaintexts = [
          '[{"device":"payload","seq":1,', // cut JSON
          '{"device":"payload","seq":1,"ts":1,"data":{}}', // an object, not an array
          '[]',
          'null',
          '\u0000\u00ff garbage',
          '"just a string"',
        ];
        for (const [index, text] of plaintexts.entries()) {
          const suite = index % 2 === 0 ? 1 : 2;
          client.write(
            sealPlaintext(Buffer.from(text, 'utf8'), key, { suite, keyId: TEST_KEY_ID, frameId: 20 + index }),
          );
        }
        client.write(sealReadings(readings(device, 201), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 40 }));
        for (let index = 0; index < plaintexts.length; index += 1) {
          await client.waitFor(
            (f): f is ErrorFrame =>
              f.type === FrameType.Error && f.frameId === 20 + index && f.code === REASONS.bad_payload.code,
          );
        }
        expect((await client.waitFor(isError(REASONS.too_many_readings.code))).frameId).toBe(40);
        expect(await badPayload.added()).toBe(plaintexts.length);
        expect(await tooMany.added()).toBe(1);
        await lettersOf(client, 'bad_payload', plaintexts.length);
        await lettersOf(client, 'too_many_readings', 1);
        expect(await storedCount(device)).toBe(0);
      });
    });

    it('schema violations and foreign devices inside an authentic frame are refused reading by reading', async () => {
      await duringGoodTraffic(async () => {
        const schema = await watchRejected(hub, 'tcp', 'schema_invalid');
        const foreign = await watchRejected(hub, 'tcp', 'device_not_allowed');
        const client = await attacker();
        const device = `schema-${kind}`;
        const now = Date.now();
        const invalid: unknown[] = [
          { device, seq: 1, ts: now, data: {}, extra: true }, // unknown field
          { device, seq: 2, ts: now }, // no data
          { device, seq: -3, ts: now, data: {} },
          { device, seq: 4.5, ts: now, data: {} },
          { device, seq: 5, ts: '2024-01-01', data: {} },
          { device, seq: 6, ts: now, data: null },
          { device, seq: 7, ts: now, data: [1, 2] },
          { device: 'bad device!', seq: 8, ts: now, data: {} },
          { device: 'd'.repeat(129), seq: 9, ts: now, data: {} },
          { device, seq: Number.MAX_SAFE_INTEGER + 2, ts: now, data: {} },
          'not an object',
          null,
        ];
        const valid = [
          { device, seq: 100, ts: now, data: { t: 1 } },
          { device, seq: 101, ts: now, data: { t: 2 } },
        ];
        const plaintext = Buffer.from(JSON.stringify([valid[0], ...invalid, valid[1]]), 'utf8');
        client.write(sealPlaintext(plaintext, key, { suite: 2, keyId: TEST_KEY_ID, frameId: 50 }));
        expect(await client.waitFor(isAck(50))).toMatchObject({
          accepted: 2,
          duplicates: 0,
          rejected: invalid.length,
        });
        // d1-key may speak only for device d1.
        const deviceKey = deriveDeviceKey(DEVICE_SECRET);
        client.write(
          sealReadings([...readings('d1', 1, 7000 + (Date.now() % 1000)), ...readings(device, 2, 200)], deviceKey, {
            suite: 1,
            keyId: DEVICE_KEY_ID,
            frameId: 51,
          }),
        );
        expect(await client.waitFor(isAck(51))).toMatchObject({ accepted: 1, rejected: 2 });
        expect(await schema.added()).toBe(invalid.length);
        expect(await foreign.added()).toBe(2);
        await lettersOf(client, 'schema_invalid', invalid.length);
        await lettersOf(client, 'device_not_allowed', 2);
        const stored = await hub.hub.store.readings(device, 0, Date.now() + 60_000, 100);
        expect(stored.map((r) => r.seq)).toEqual([100, 101]);
      });
    });

    it('a malformed body, a DATA frame numbered 0 or a device-sent ACK is refused alone and the stream continues', async () => {
      await duringGoodTraffic(async () => {
        const malformed = await watchRejected(hub, 'tcp', 'malformed_frame');
        const unknownType = await watchRejected(hub, 'tcp', 'unknown_frame_type');
        const client = await attacker();
        // DATA body whose key id length is 0.
        const noKeyId = Buffer.alloc(4 + 16 + 12 + 16);
        noKeyId.writeUInt32BE(noKeyId.length - 4, 0);
        noKeyId.set([1, 1, 1], 4);
        // DATA body shorter than its fixed fields, and a key id with a forbidden byte.
        const shortData = Buffer.from([0, 0, 0, 4, 1, 1, 1, 0]);
        const badKeyByte = sealReadings(readings('x', 1), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 60 });
        badKeyByte[4 + 16] = 0x20;
        // An authentic DATA frame numbered 0, the number ERROR uses for the connection itself.
        const zeroId = sealReadings(readings(`zero-id-${kind}`, 2), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 0 });
        client.write(
          Buffer.concat([
            noKeyId,
            shortData,
            badKeyByte,
            zeroId,
            encodeAck({ frameId: 1, accepted: 1, duplicates: 0, rejected: 0 }),
          ]),
        );
        const device = `after-malformed-${kind}`;
        client.write(sealReadings(readings(device, 4), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 61 }));
        expect(await client.waitFor(isAck(61))).toMatchObject({ accepted: 4 });
        expect(client.frames.filter(isError(REASONS.malformed_frame.code))).toHaveLength(4);
        expect(client.frames.filter(isError(REASONS.unknown_frame_type.code))).toHaveLength(1);
        expect(client.frames.some(isAck(0))).toBe(false);
        expect(await malformed.added()).toBe(4);
        expect(await unknownType.added()).toBe(1);
        await lettersOf(client, 'malformed_frame', 4);
        expect(client.closed).toBe(false);
      });
    });

    it('giant or tiny length prefixes, bad versions and unknown frame types close only that connection', async () => {
      await duringGoodTraffic(async () => {
        const cases: Array<{ bytes: Buffer; reason: ReasonCode }> = [
          { bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 1]), reason: 'frame_too_large' },
          { bytes: Buffer.from([0x00, 0x10, 0x00, 0x01]), reason: 'frame_too_large' }, // 1 MiB + 1
          { bytes: Buffer.from([0, 0, 0, 1, 1]), reason: 'frame_truncated' },
          { bytes: Buffer.from([0, 0, 0, 0]), reason: 'frame_truncated' },
          { bytes: Buffer.from([0, 0, 0, 10, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'bad_version' },
          { bytes: Buffer.from([0, 0, 0, 10, 1, 99, 0, 0, 0, 0, 0, 0, 0, 0]), reason: 'unknown_frame_type' },
        ];
        for (const { bytes, reason } of cases) {
          const counter = await watchRejected(hub, 'tcp', reason);
          const client = await attacker();
          client.write(bytes);
          const error = await client.waitFor(isError(REASONS[reason].code));
          expect(error.frameId).toBe(0);
          await client.waitClosed();
          expect(await counter.added()).toBe(1);
          const [letter] = await lettersOf(client, reason, 1);
          expect(letter?.raw.byteLength).toBeLessThanOrEqual(256);
        }
      });
    });

    it('a frame truncated by a closing sender is frame_truncated and stores nothing', async () => {
      await duringGoodTraffic(async () => {
        const counter = await watchRejected(hub, 'tcp', 'frame_truncated');
        const client = await attacker();
        const device = `truncated-${kind}`;
        const frame = sealReadings(readings(device, 50), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 70 });
        client.write(frame.subarray(0, Math.floor(frame.length * 0.6)));
        await sleep(50);
        client.socket.end();
        expect((await client.waitFor(isError(REASONS.frame_truncated.code))).frameId).toBe(0);
        await client.waitClosed();
        expect(await counter.added()).toBe(1);
        await lettersOf(client, 'frame_truncated', 1);
        expect(await storedCount(device)).toBe(0);
      });
    });

    it('random garbage streams are refused and closed without taking the hub down', async () => {
      await duringGoodTraffic(async () => {
        const before = await totalRejected();
        const seeds = Array.from({ length: 24 }, (_, i) => 0x5eed + i * 7919);
        const clients: FrameClient[] = [];
        for (const seed of seeds) {
          const client = await attacker();
          client.write(seededBytes(seed, 64 + (seed % 2000)));
          clients.push(client);
        }
        await sleep(100);
        for (const client of clients) client.socket.end(); // whatever the hub still buffers is now truncated
        for (const client of clients) await client.waitClosed();
        // Each connection ends with at least one refusal (the fatal one that closed it).
        expect((await totalRejected()) - before).toBeGreaterThanOrEqual(seeds.length);
        const health = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/healthz`);
        expect(health.status).toBe(200);
      });
    });

    it('a slow sender trickling a frame is dropped with idle_timeout after the partial-frame timeout', async () => {
      await duringGoodTraffic(async () => {
        const counter = await watchRejected(hub, 'tcp', 'idle_timeout');
        const client = await attacker();
        const device = `slowloris-${kind}`;
        const frame = sealReadings(readings(device, 20), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 80 });
        const started = Date.now();
        // One byte every 100 ms keeps the socket busy but never completes the frame within 500 ms.
        for (let at = 0; at < frame.length && !client.closed && Date.now() - started < 6000; at += 1) {
          client.write(frame.subarray(at, at + 1));
          await sleep(100);
        }
        expect(client.closed).toBe(true);
        expect(Date.now() - started).toBeLessThan(5000);
        expect(client.frames.some(isError(REASONS.idle_timeout.code))).toBe(true);
        expect(await counter.added()).toBe(1);
        await lettersOf(client, 'idle_timeout', 1);
        expect(await storedCount(device)).toBe(0);
      });
    });

    async function totalRejected(): Promise<number> {
      const response = await fetch(`http://127.0.0.1:${hub.hub.ports.http}/metrics`);
      let total = 0;
      for (const line of (await response.text()).split('\n')) {
        if (line.startsWith('sealstream_readings_rejected_total{source="tcp"')) total += Number(line.split(' ').at(-1));
      }
      return total;
    }
  });
}

describe('dead-letter budget under a flood of refusals', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await startTestHub('pglite', ['--dead-letters-per-second', '20', '--dead-letter-raw-bytes', '64']);
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it('counts every refusal, keeps at most the per-second budget, and good traffic still flows', async () => {
    const good = new GoodTraffic(hub, 'flood-good', 1000, { maxReadingsPerFrame: 100 });
    try {
      const counter = await watchRejected(hub, 'tcp', 'integrity_failed');
      const frame = sealReadings(readings('flood', 40), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 1 });
      const forged = flipBit(frame, -1);
      // 25 connections of 16 forged frames each: the most one connection may send before it is closed.
      const perConnection = 16;
      const clients = await Promise.all(Array.from({ length: 25 }, () => FrameClient.open(hub.hub.ports.tcp ?? 0)));
      const floods = clients.length * perConnection;
      const started = Date.now();
      for (const client of clients) client.write(Buffer.concat(Array.from({ length: perConnection }, () => forged)));
      await waitUntil(
        () =>
          clients.every(
            (client) => client.frames.filter(isError(REASONS.integrity_failed.code)).length >= perConnection,
          ),
        'an ERROR per forged frame',
      );
      const seconds = Math.ceil((Date.now() - started) / 1000) + 1;
      expect(await counter.added()).toBe(floods);
      await sleep(300);
      const peers = new Set(clients.map((client) => `127.0.0.1:${client.socket.localPort ?? 0}`));
      const kept = (await hub.hub.store.recentDeadLetters(5000)).filter((r) => peers.has(r.peer));
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.length).toBeLessThanOrEqual(20 * seconds);
      expect(kept.length).toBeLessThan(floods);
      for (const row of kept) {
        expect(row.raw.byteLength).toBe(64);
        expect(row.truncated).toBe(true);
      }
      for (const client of clients) client.close();
      await good.finish();
    } finally {
      good.destroy();
    }
  });

  it('closes a connection past its refusal budget; a device whose frames are authentic keeps a larger one', async () => {
    const good = new GoodTraffic(hub, 'budget-good', 1000, { maxReadingsPerFrame: 100 });
    try {
      const closedFor = await watchRejected(hub, 'tcp', 'too_many_refusals');
      const forgedFrame = (frameId: number): Buffer =>
        flipBit(sealReadings(readings('budget', 5), key, { suite: 1, keyId: TEST_KEY_ID, frameId }), -1);

      // Never authentic: 16 refusals are answered, the 17th closes the connection.
      const stranger = await FrameClient.open(hub.hub.ports.tcp ?? 0);
      stranger.write(Buffer.concat(Array.from({ length: 40 }, (_, i) => forgedFrame(i + 1))));
      const closing = await stranger.waitFor(isError(REASONS.too_many_refusals.code));
      expect(closing.frameId).toBe(0);
      await waitUntil(() => stranger.closed, 'the connection closed');
      // The frames up to the one that spent the budget are answered; none after it, even those already read.
      expect(stranger.frames.filter(isError(REASONS.integrity_failed.code))).toHaveLength(17);
      expect(await closedFor.added()).toBe(1);

      // One authentic frame first: 50 forged frames in a second stay within the per-second allowance.
      const device = await FrameClient.open(hub.hub.ports.tcp ?? 0);
      device.write(sealReadings(readings('budget-device', 3), key, { suite: 1, keyId: TEST_KEY_ID, frameId: 100 }));
      await device.waitFor(isAck(100));
      device.write(Buffer.concat(Array.from({ length: 50 }, (_, i) => forgedFrame(200 + i))));
      await waitUntil(
        () => device.frames.filter(isError(REASONS.integrity_failed.code)).length >= 50,
        'an ERROR per forged frame',
      );
      await sleep(200);
      expect(device.closed).toBe(false);
      expect(await closedFor.added()).toBe(1);
      device.close();
      stranger.close();
      await good.finish();
    } finally {
      good.destroy();
    }
  });
});
