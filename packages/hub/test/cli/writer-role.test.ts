/**
 * The writer role against the local RabbitMQ and PostgreSQL: a batch whose commit keeps failing goes
 * round the retry queue, and after the last attempt lands in the dead queue and, with its reason, in
 * the dead-letter store (its bytes kept), while the store keeps taking other writes.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusCommitClient } from '../../src/bus/bus-commit-client.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';
import { startWriterRole, type WriterRole } from '../../src/cli/roles/writer-wiring.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createMetrics } from '../../src/observability/metrics.js';
import type { CommitBatch } from '../../src/pipeline/ports.js';
import { StoreError } from '../../src/pipeline/store-error.js';
import type { SqlReadingStore } from '../../src/store/index.js';
import { postgresDriver, type StoreDriver } from '../store/store-fixtures.js';
import { failIfRequired, pgAvailability, pgTestUrl } from '../support/postgres.js';
import { amqpUrl, createVhost, deleteVhost, failIfRabbitRequired, rabbitAvailability } from '../support/rabbitmq.js';

const rabbit = await rabbitAvailability();
const pg = await pgAvailability();
const skip = !rabbit.available || !pg.available;
if (skip)
  console.warn(`writer role suite skipped: ${!rabbit.available ? rabbit.reason : (pg as { reason: string }).reason}`);

describe.skipIf(skip)('writer role', () => {
  let vhost = '';
  let driver: StoreDriver;
  let store: SqlReadingStore;
  let writer: WriterRole | undefined;
  let client: BusCommitClient | undefined;

  beforeAll(async () => {
    failIfRabbitRequired(rabbit);
    failIfRequired(pg);
    vhost = await createVhost();
    driver = await postgresDriver();
    await driver.setup();
    store = await driver.open();
    await store.migrate();
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await writer?.close();
    await store?.close();
    await driver?.teardown();
    if (vhost !== '') await deleteVhost(vhost);
  }, 120_000);

  it('keeps a batch it gave up on as a dead letter with the reason, after the retry queue', async () => {
    const loaded = loadConfig(
      ['--role', 'writer', '--instance', 'w-dead', '--bus-prefix', 'wr', '--bus-partitions', '2'],
      { DATABASE_URL: pgTestUrl(), SEALSTREAM_AMQP_URL: amqpUrl(vhost), SEALSTREAM_JWT_SECRET: 'j'.repeat(32) },
      DEMO_DEFAULTS,
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    const config = loaded.config;
    // Readings never commit (the store is "away" for them); the dead letter of the given-up batch does.
    const failing = new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'commit') return Reflect.get(target, property, receiver) as unknown;
        return (batch: CommitBatch) =>
          batch.readings.length > 0
            ? Promise.reject(new StoreError('store_unavailable', 'connection refused'))
            : target.commit(batch);
      },
    });
    writer = await startWriterRole(config, failing, createMetrics(), pino({ level: 'silent' }));
    client = await BusCommitClient.open({
      prefix: 'wr',
      partitions: 2,
      maxQueueBytes: config.bus.maxQueueBytes,
      retryDelayMs: 2_000,
      url: amqpUrl(vhost),
      instance: 'gw-dead',
      noticeTimeoutMs: 60_000,
      maxPendingParts: 100,
    });
    const now = Date.now();
    const sent = client.commit({
      readings: [{ device: 'doomed', seq: 1, ts: now, data: { v: 1 }, source: 'http', receivedAt: now }],
      deadLetters: [],
    });
    sent.catch(() => undefined); // its notice never comes: the test reads the dead letter instead

    const until = Date.now() + 40_000;
    let letters = await store.recentDeadLetters(10);
    while (letters.length === 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      letters = await store.recentDeadLetters(10);
    }
    expect(letters).toHaveLength(1);
    const [letter] = letters;
    expect(letter).toMatchObject({ reason: 'store_unavailable', source: 'http', device: 'doomed' });
    expect(letter?.peer).toMatch(/^bus:wr\.batches\.\d$/);
    expect(letter?.detail).toMatch(/given up on by writer w-dead: store_unavailable/);
    expect(Buffer.from(letter?.raw ?? []).toString('utf8')).toContain('"doomed"');
  }, 60_000);
});
