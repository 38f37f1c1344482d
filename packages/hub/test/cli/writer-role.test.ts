/**
 * The writer role against the local RabbitMQ and PostgreSQL: a batch whose commit keeps failing goes
 * round the retry queue, and after the last attempt lands in the dead queue and, with its reason, in
 * the dead-letter store (its bytes kept), while the store keeps taking other writes; and its /metrics
 * hold the commit figures of a single process (commits, rows per commit, seconds, failures, readings
 * accepted and duplicate by source), which the bench reads from the writer.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusCommitClient } from '../../src/bus/bus-commit-client.js';
import { DEMO_DEFAULTS } from '../../src/cli/demo-defaults.js';
import { startWriterRole, type WriterRole } from '../../src/cli/roles/writer-wiring.js';
import type { HubConfig } from '../../src/config/hub-config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { buildMonitorApp } from '../../src/http/monitor-app.js';
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

  function writerConfig(instance: string, prefix: string): HubConfig {
    const loaded = loadConfig(
      ['--role', 'writer', '--instance', instance, '--bus-prefix', prefix, '--bus-partitions', '2'],
      { DATABASE_URL: pgTestUrl(), SEALSTREAM_AMQP_URL: amqpUrl(vhost), SEALSTREAM_JWT_SECRET: 'j'.repeat(32) },
      DEMO_DEFAULTS,
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    return loaded.config;
  }

  afterAll(async () => {
    await client?.close();
    await writer?.close();
    await store?.close();
    await driver?.teardown();
    if (vhost !== '') await deleteVhost(vhost);
  }, 120_000);

  it('keeps a batch it gave up on as a dead letter with the reason, after the retry queue', async () => {
    const config = writerConfig('w-dead', 'wr');
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

  it('counts its commits in /metrics as one process does: commits, rows, seconds, failures, readings by source', async () => {
    const config = writerConfig('w-metrics', 'wm');
    const metrics = createMetrics();
    let failNext = true;
    // The first commit fails once (an outage): counted as a failure, then retried from the retry queue.
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'commit') return Reflect.get(target, property, receiver) as unknown;
        return (batch: CommitBatch) => {
          if (failNext && batch.readings.length > 0) {
            failNext = false;
            return Promise.reject(new StoreError('store_unavailable', 'connection refused'));
          }
          return target.commit(batch);
        };
      },
    });
    const role = await startWriterRole(config, flaky, metrics, pino({ level: 'silent' }));
    const gateway = await BusCommitClient.open({
      prefix: 'wm',
      partitions: 2,
      maxQueueBytes: config.bus.maxQueueBytes,
      retryDelayMs: 2_000,
      url: amqpUrl(vhost),
      instance: 'gw-metrics',
      noticeTimeoutMs: 30_000,
      maxPendingParts: 100,
    });
    const app = buildMonitorApp({
      logger: pino({ level: 'silent' }),
      store,
      metricsRegistry: metrics.registry,
      isReady: () => true,
      requestTimeoutMs: 5_000,
      identity: { role: 'writer', instance: 'w-metrics' },
      dependencies: () => ({ bus: role.connected() ? 'up' : 'down' }),
    });
    try {
      const now = Date.now();
      const batch = (from: number, count: number, source: 'tcp' | 'mqtt'): CommitBatch => ({
        readings: Array.from({ length: count }, (_, i) => ({
          device: `m-${source}`,
          seq: from + i,
          ts: now - 1_000 + from + i,
          data: { v: i },
          source,
          receivedAt: now,
        })),
        deadLetters: [],
      });
      await gateway.commit(batch(0, 30, 'tcp'));
      await gateway.commit(batch(0, 12, 'mqtt'));
      await gateway.commit(batch(20, 20, 'tcp')); // 10 of them are stored already

      const text = await (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const value = (series: string): number => {
        const line = text.split('\n').find((l) => l.startsWith(series));
        return Number(line?.slice(line.lastIndexOf(' ') + 1));
      };
      expect(value('sealstream_commit_seconds_count')).toBe(3);
      expect(value('sealstream_commit_seconds_sum')).toBeGreaterThan(0);
      expect(value('sealstream_batch_readings_count')).toBe(3);
      expect(value('sealstream_batch_readings_sum')).toBe(62);
      expect(value('sealstream_commit_failures_total')).toBe(1);
      expect(value('sealstream_readings_accepted_total{source="tcp"')).toBe(40);
      expect(value('sealstream_readings_accepted_total{source="mqtt"')).toBe(12);
      expect(value('sealstream_readings_duplicate_total{source="tcp"')).toBe(10);
    } finally {
      await app.close();
      await gateway.close();
      await role.close();
    }
  }, 60_000);
});
