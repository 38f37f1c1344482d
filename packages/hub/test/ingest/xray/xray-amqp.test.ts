/**
 * XRayIOT's producer against the hub's AMQP door over the local RabbitMQ (a vhost of its own per run)
 * and a PGlite store: a publisher written from design §4.6 (its exchange only, headers and body byte for
 * byte, no other AMQP properties), the sample data stored as readings with its summary, refusals
 * dead-lettered to iot.dlx with x-reject-reason and into the dead-letter store, a store outage sent
 * through the retry queue and stored once it is back, a broker down at start and dropped mid-stream,
 * a redelivery while the first copy still commits (not acked as seen: the first copy may yet fail), and
 * a shared nonce window that recorded a nonce but answered too late (the retry copy is no replay).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { XrayAmqpConsumer } from '../../../src/ingest/amqp/xray-consumer.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { StaticKeyring, stringCredential } from '../../../src/pipeline/keyring.js';
import { NonceWindow } from '../../../src/pipeline/nonce-window.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import type { ReadingStore } from '../../../src/pipeline/ports.js';
import type { SharedReplayWindow } from '../../../src/pipeline/shared-state-ports.js';
import { openStore, signalStoreFor, type SqlReadingStore } from '../../../src/store/index.js';
import { DEFAULT_TEST_LIMITS } from '../../support/ingest-harness.js';
import {
  rabbitAvailability,
  createVhost,
  deleteVhost,
  closeVhostConnections,
  failIfRabbitRequired,
  uniqueVhostName,
  amqpUrl,
} from '../../support/rabbitmq.js';
import { amqpHeaders, nonce, sampleData, signal } from './xray-fixtures.js';

const SECRET = 'amqp-test-hmac-secret-0123456789';
const availability = await rabbitAvailability();
if (!availability.available) console.warn(`skipping XRayIOT AMQP tests: ${availability.reason}`);

describe.skipIf(!availability.available && process.env['CI'] !== 'true')('XRayIOT AMQP ingest', () => {
  const vhost = uniqueVhostName();
  let dataDir: string;
  let store: SqlReadingStore;
  let pipeline: Pipeline;
  let consumer: XrayAmqpConsumer;
  let publisher: ChannelModel;
  let channel: Channel;
  let storeDown = false;
  /** While set, every commit waits for it (a commit in flight), then goes on as usual. */
  let commitGate: Promise<void> | null = null;
  let commitsHeld = 0;
  const settled: string[] = [];
  /**
   * The nonces shared with other hubs, in memory. 'late': every call records, then fails, as a Redis
   * that ran SET NX but answered after the hub's timeout (and forgets cannot reach it either).
   */
  let sharedMode: 'ok' | 'late' = 'ok';
  const sharedIds = new Set<string>();
  const sharedNonces: SharedReplayWindow = {
    firstSightings: (ids) => {
      const fresh = ids.map((id) => !sharedIds.has(id));
      for (const id of ids) sharedIds.add(id);
      return sharedMode === 'late' ? Promise.reject(new Error('timed out')) : Promise.resolve(fresh);
    },
    forget: (ids) => {
      if (sharedMode === 'late') return Promise.reject(new Error('unreachable'));
      for (const id of ids) sharedIds.delete(id);
      return Promise.resolve();
    },
  };

  beforeAll(async () => {
    failIfRabbitRequired(availability);
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-amqp-'));
    store = await openStore({ kind: 'pglite', dataDir });
    await store.migrate();
    // The real store, with an outage switch: while down, every commit fails as a lost server would.
    const outageStore: ReadingStore = Object.assign(Object.create(store) as ReadingStore, {
      commit: async (batch: Parameters<ReadingStore['commit']>[0]) => {
        if (commitGate !== null) {
          commitsHeld += 1;
          await commitGate;
        }
        if (storeDown) throw new Error('connection refused');
        return store.commit(batch);
      },
    });
    pipeline = new Pipeline({
      store: outageStore,
      metrics: createMetrics().pipeline,
      keys: new StaticKeyring([{ keyId: 'xray', devices: 'any', ...stringCredential(SECRET) }]),
      limits: { ...DEFAULT_TEST_LIMITS, commitRetryDeadlineMs: 200 },
    });
    await pipeline.start();
    consumer = new XrayAmqpConsumer({
      url: amqpUrl(vhost),
      prefetch: 50,
      retryDelayMs: 300,
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      onSettled: (outcome) => settled.push(outcome),
      deps: {
        pipeline,
        keys: new StaticKeyring([{ keyId: 'xray', devices: 'any', ...stringCredential(SECRET) }]),
        nonces: new NonceWindow(300_000, 100_000, 100_000),
        sharedNonces,
        toleranceMs: 300_000,
        allowDefaultSecret: false,
        storeSummaries: true,
        maxReadingsPerSubmission: 10_000,
        now: Date.now,
      },
    });
    // Broker "down" at start: the vhost does not exist yet, so the first connection is refused.
    consumer.start();
    await consumer.ready();
    expect(consumer.state).toBe('down');
    await createVhost(vhost);
    await waitFor(() => consumer.state === 'connected', 60_000);

    publisher = await amqp.connect(amqpUrl(vhost));
    channel = await publisher.createChannel();
    // All XRayIOT's producer declares.
    await channel.assertExchange('iot.xray', 'topic', { durable: true });
  }, 180_000);

  afterAll(async () => {
    await publisher?.close().catch(() => undefined);
    await consumer?.close();
    await pipeline?.close();
    await store?.close();
    await deleteVhost(vhost);
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  /** As its producer publishes: JSON.stringify of the signal, its headers, nothing else. */
  function publish(
    value: Record<string, unknown>,
    headers?: Record<string, string>,
    body = JSON.stringify(value),
  ): void {
    const signed = headers ?? amqpHeaders(SECRET, 'sha256', value as { deviceId: string; capturedAt: string }, body);
    channel.publish('iot.xray', 'xray.raw.v1', Buffer.from(body), { headers: signed });
  }

  async function deadLettered(count: number): Promise<Array<{ reason: unknown; body: string }>> {
    const got: Array<{ reason: unknown; body: string }> = [];
    await waitFor(async () => {
      const message = await channel.get('xray.raw.dlq', { noAck: true });
      if (message !== false) {
        got.push({ reason: message.properties.headers?.['x-reject-reason'], body: message.content.toString() });
      }
      return got.length >= count;
    }, 15_000);
    return got;
  }

  it('stores the sample data as x/y/speed readings and its summary, then acks', async () => {
    const time = Date.now() - 30_000;
    const value = signal('amqp-dev-1', sampleData('66bb584d4ae73e488c30a072', time, 4));
    publish(value);
    await waitFor(async () => (await store.readings('amqp-dev-1', 0, Date.now() + 1e7, 100)).length === 4, 15_000);
    const rows = await store.readings('amqp-dev-1', 0, Date.now() + 1e7, 100);
    expect(rows.map((row) => row.ts).sort()).toEqual([time + 762, time + 1762, time + 2762, time + 3762]);
    expect(rows[0]?.source).toBe('amqp');
    await waitFor(async () => {
      const summaries = await signalStoreFor(store).signalSummaries({
        device: 'amqp-dev-1',
        fromMs: null,
        toMs: null,
        limit: 10,
        beforeId: null,
      });
      return summaries.length === 1 && summaries[0]?.dataLength === 4 && summaries[0].source === 'amqp';
    }, 10_000);
    await waitFor(async () => (await channel.checkQueue('xray.raw.q')).messageCount === 0, 10_000);
  });

  it('dead-letters refusals to iot.dlx with the reason header and into the dead-letter store', async () => {
    const good = signal('amqp-dev-2', sampleData('k', Date.now(), 1));
    const goodBody = JSON.stringify(good);
    const headers = amqpHeaders(SECRET, 'sha512', good as { deviceId: string; capturedAt: string }, goodBody);
    publish(good, headers);
    publish(good, headers); // the same message again: its nonce is spent
    const old = signal('amqp-dev-2', 'x', { capturedAt: new Date(Date.now() - 400_000).toISOString() });
    publish(old); // a capture older than the window: stale, not a bad signature
    const forged = signal('amqp-dev-2', 'x');
    publish(forged, amqpHeaders('a-different-secret-0123456789', 'sha256', forged as never, JSON.stringify(forged)));
    publish(signal('amqp-dev-2', 'x', { unexpected: true }));
    const noHeaders = signal('amqp-dev-2', 'x');
    channel.publish('iot.xray', 'xray.raw.v1', Buffer.from(JSON.stringify(noHeaders)));
    const letters = await deadLettered(5);
    expect(letters.map((letter) => letter.reason).sort()).toEqual(
      ['bad_signature', 'missing_auth', 'replayed_nonce', 'schema_invalid', 'stale_request'].sort(),
    );
    const stored = await waitForValue(async () => {
      const rows = (await store.recentDeadLetters(100)).filter((row) => row.source === 'amqp');
      return rows.length >= 5 ? rows : undefined;
    }, 10_000);
    expect(stored.map((row) => row.reason)).toContain('stale_request');
    expect(stored.every((row) => row.raw.byteLength > 0)).toBe(true);
    expect((await store.readings('amqp-dev-2', 0, Date.now() + 1e7, 100)).length).toBe(1);
  });

  it('sends messages through the retry queue while the store is down, and stores them once it is back', async () => {
    storeDown = true;
    const value = signal('amqp-dev-3', sampleData('k', Date.now() - 10_000, 2));
    publish(value);
    await waitFor(() => settled.includes('busy'), 15_000);
    expect((await store.readings('amqp-dev-3', 0, Date.now() + 1e7, 100)).length).toBe(0);
    storeDown = false;
    await waitFor(async () => (await store.readings('amqp-dev-3', 0, Date.now() + 1e7, 100)).length === 2, 20_000);
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
  });

  it('in one burst of deliveries, dead-letters the forged message alone and commits and acks the rest', async () => {
    const time = Date.now() - 20_000;
    const forged = signal('amqp-burst-bad', 'x');
    // Published back to back, so the consumer takes them in one burst (one submission, one multiple-ack).
    for (let i = 0; i < 30; i += 1) {
      if (i === 12) {
        publish(
          forged,
          amqpHeaders('a-different-secret-0123456789', 'sha256', forged as never, JSON.stringify(forged)),
        );
      }
      publish(signal(`amqp-burst-${i % 3}`, sampleData(`burst-${i}`, time + i, 2)));
    }
    const letters = await deadLettered(1);
    expect(letters.map((letter) => letter.reason)).toEqual(['bad_signature']);
    expect(JSON.parse(letters[0]?.body ?? '{}')).toMatchObject({ deviceId: 'amqp-burst-bad' });
    const stored = async (): Promise<number> => {
      let total = 0;
      for (const device of ['amqp-burst-0', 'amqp-burst-1', 'amqp-burst-2']) {
        total += (await store.readings(device, 0, Date.now() + 1e7, 1000)).length;
      }
      return total;
    };
    await waitFor(async () => (await stored()) === 60, 15_000);
    // Every one acknowledged (none left unacked in the hub, none back in the queue), each summary once.
    await waitFor(async () => consumer.unacknowledged === 0, 10_000);
    expect((await channel.checkQueue('xray.raw.q')).messageCount).toBe(0);
    const summaries = await signalStoreFor(store).signalSummaries({
      device: null,
      fromMs: null,
      toMs: null,
      limit: 1000,
      beforeId: null,
    });
    expect(summaries.filter((row) => row.deviceId.startsWith('amqp-burst-') && row.dataLength === 2)).toHaveLength(30);
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
    expect(await stored()).toBe(60);
  });

  it('refuses a body no XRayRawSignal can be as body_too_large, before checking its signature', async () => {
    const huge = signal('amqp-dev-big', 'x'.repeat(3 * 1024 * 1024));
    const hugeBody = JSON.stringify(huge);
    // Correctly signed: only its size refuses it.
    publish(huge, amqpHeaders(SECRET, 'sha256', huge as { deviceId: string; capturedAt: string }, hugeBody));
    const [letter] = await deadLettered(1);
    expect(letter?.reason).toBe('body_too_large');
    expect(letter?.body.length).toBe(hugeBody.length); // the original message, for XRayIOT's DLQ consumers
    const stored = await waitForValue(async () => {
      const rows = (await store.recentDeadLetters(100)).filter((row) => row.reason === 'body_too_large');
      return rows.length > 0 ? rows : undefined;
    }, 10_000);
    expect(stored[0]?.truncated).toBe(true);
  });

  it('acks nothing of a burst the store cannot take: all of it goes through the retry queue, stored once', async () => {
    storeDown = true;
    const before = settled.length;
    const time = Date.now() - 15_000;
    for (let i = 0; i < 20; i += 1) publish(signal(`amqp-outage-${i % 4}`, sampleData(`outage-${i}`, time + i, 3)));
    await waitFor(() => settled.slice(before).filter((outcome) => outcome === 'busy').length >= 20, 15_000);
    let readings = 0;
    for (let d = 0; d < 4; d += 1)
      readings += (await store.readings(`amqp-outage-${d}`, 0, Date.now() + 1e7, 100)).length;
    expect(readings).toBe(0);
    expect(settled.slice(before)).not.toContain('stored');
    storeDown = false;
    const count = async (): Promise<number> => {
      let total = 0;
      for (let d = 0; d < 4; d += 1)
        total += (await store.readings(`amqp-outage-${d}`, 0, Date.now() + 1e7, 100)).length;
      return total;
    };
    await waitFor(async () => (await count()) === 60, 20_000);
    await waitFor(async () => consumer.unacknowledged === 0, 10_000);
    const summaries = await signalStoreFor(store).signalSummaries({
      device: null,
      fromMs: null,
      toMs: null,
      limit: 1000,
      beforeId: null,
    });
    expect(summaries.filter((row) => row.deviceId.startsWith('amqp-outage-'))).toHaveLength(20);
    // Redelivered from the retry queue, not refused as replays of their own nonces.
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
    expect(await count()).toBe(60);
  });

  it('reconnects after the broker drops the connection mid-stream, and goes on consuming', async () => {
    expect(await closeVhostConnections(vhost)).toBeGreaterThan(0);
    // Our publisher went too; the consumer must come back by itself.
    await waitFor(() => consumer.state === 'down', 10_000).catch(() => undefined);
    await waitFor(() => consumer.state === 'connected', 60_000);
    publisher = await amqp.connect(amqpUrl(vhost));
    channel = await publisher.createChannel();
    const value = signal('amqp-dev-4', sampleData('k', Date.now() - 5_000, 1), {});
    const body = JSON.stringify(value);
    channel.publish('iot.xray', 'xray.raw.v1', Buffer.from(body), {
      headers: amqpHeaders(SECRET, 'sha256', value as never, body, nonce()),
    });
    await waitFor(async () => (await store.readings('amqp-dev-4', 0, Date.now() + 1e7, 100)).length === 1, 20_000);
  }, 120_000);

  it('does not ack a redelivery as seen while its first copy commits; that copy failing loses nothing', async () => {
    let release = (): void => undefined;
    commitGate = new Promise<void>((resolve) => (release = resolve));
    commitsHeld = 0;
    const value = signal('amqp-inflight', sampleData('k', Date.now() - 8_000, 2));
    publish(value);
    await waitFor(() => commitsHeld > 0, 15_000);
    // The channel drops while the first copy commits: the broker hands the message out again.
    const before = settled.length;
    expect(await closeVhostConnections(vhost)).toBeGreaterThan(0);
    // Not acked as seen: answered busy, a copy in the retry queue.
    await waitFor(() => settled.slice(before).includes('busy'), 60_000);
    expect(settled.slice(before)).not.toContain('seen');
    // The first copy now fails (store down past the commit deadline); its channel is gone.
    storeDown = true;
    commitGate = null;
    release();
    await waitFor(() => settled.slice(before).includes('retry_failed'), 15_000);
    expect((await store.readings('amqp-inflight', 0, Date.now() + 1e7, 100)).length).toBe(0);
    storeDown = false;
    // The retry copy is the message: stored, once.
    await waitFor(async () => (await store.readings('amqp-inflight', 0, Date.now() + 1e7, 100)).length === 2, 20_000);
    publisher = await amqp.connect(amqpUrl(vhost));
    channel = await publisher.createChannel();
    await waitFor(async () => consumer.unacknowledged === 0, 10_000);
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
    expect((await store.readings('amqp-inflight', 0, Date.now() + 1e7, 100)).length).toBe(2);
  }, 120_000);

  it('a shared window that recorded the nonce but answered too late does not make the retry a replay', async () => {
    const before = settled.length;
    sharedMode = 'late';
    publish(signal('amqp-late-redis', sampleData('k', Date.now() - 6_000, 3)));
    await waitFor(() => settled.slice(before).includes('busy'), 15_000);
    sharedMode = 'ok';
    // The retry copy meets its own nonce in the shared window (the forget could not reach it): submitted
    // again, not refused replayed_nonce.
    await waitFor(async () => (await store.readings('amqp-late-redis', 0, Date.now() + 1e7, 100)).length === 3, 20_000);
    await waitFor(async () => consumer.unacknowledged === 0, 10_000);
    expect(settled.slice(before)).not.toContain('refused');
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
  }, 60_000);

  it('pauses consuming while the bodies in hand pass the byte budget, and resumes once they settle', async () => {
    // A consumer of its own with a small budget; the suite's (prefetch 50, 64 MiB) would take everything.
    await consumer.close();
    const budget = 256 * 1024;
    let pauses = 0;
    let maxBytesSeen = 0;
    consumer = new XrayAmqpConsumer({
      url: amqpUrl(vhost),
      prefetch: 50,
      retryDelayMs: 300,
      maxInHandBytes: budget,
      metrics: {
        inHand: (_messages, bytes) => {
          maxBytesSeen = Math.max(maxBytesSeen, bytes);
        },
        paused: () => {
          pauses += 1;
        },
      },
      logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
      deps: {
        pipeline,
        keys: new StaticKeyring([{ keyId: 'xray', devices: 'any', ...stringCredential(SECRET) }]),
        nonces: new NonceWindow(300_000, 100_000, 100_000),
        toleranceMs: 300_000,
        allowDefaultSecret: false,
        storeSummaries: true,
        maxReadingsPerSubmission: 10_000,
        now: Date.now,
      },
    });
    consumer.start();
    await waitFor(() => consumer.state === 'connected' && consumer.isConsuming, 30_000);
    // Commits held: every message taken stays in hand.
    let release = (): void => undefined;
    commitGate = new Promise<void>((resolve) => (release = resolve));
    // A failure below must not leave commits held: the consumer's close (afterAll) waits for them.
    onTestFailed(() => {
      commitGate = null;
      release();
    });
    const messages = 20;
    let bodyBytes = 0;
    for (let i = 0; i < messages; i += 1) {
      const value = signal(`amqp-budget-${i}`, sampleData('k', Date.now() - 2_100_000, 2_000));
      const body = JSON.stringify(value);
      bodyBytes = Buffer.byteLength(body);
      publish(value, amqpHeaders(SECRET, 'sha256', value as never, body, nonce()), body);
      // One at a time, as a steady producer: the pause takes effect between two deliveries.
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(bodyBytes * messages).toBeGreaterThan(4 * budget);
    await waitFor(() => !consumer.isConsuming, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Paused past the budget: the rest wait in the broker, not in the hub (the prefetch would allow 50).
    expect(pauses).toBeGreaterThan(0);
    expect(consumer.inHand.bytes).toBeGreaterThan(budget);
    expect(maxBytesSeen).toBeLessThanOrEqual(budget + 2 * bodyBytes);
    expect(consumer.inHand.messages).toBeLessThan(messages);
    expect((await channel.checkQueue('xray.raw.q')).messageCount).toBeGreaterThan(0);
    // Commits go on: it settles, consumes again, and every message is stored once.
    commitGate = null;
    release();
    await waitFor(async () => {
      for (let i = 0; i < messages; i += 1) {
        if ((await store.readings(`amqp-budget-${i}`, 0, Date.now() + 1e7, 10)).length === 0) return false;
      }
      return true;
    }, 60_000);
    await waitFor(() => consumer.inHand.messages === 0 && consumer.isConsuming, 10_000);
    expect(consumer.inHand.bytes).toBe(0);
    expect((await channel.checkQueue('xray.raw.q')).messageCount).toBe(0);
    expect((await channel.checkQueue('xray.raw.dlq')).messageCount).toBe(0);
  }, 120_000);
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('condition not met in time');
}

async function waitForValue<T>(read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  let value: T | undefined;
  await waitFor(async () => (value = await read()) !== undefined, timeoutMs);
  return value as T;
}
