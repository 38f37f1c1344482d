/**
 * Re-driving the dead queue against the local RabbitMQ and PostgreSQL: a batch a writer gave up on (the
 * store failing every attempt) waits whole in `<p>.dead.q` with the partition it came from; once the
 * store is back, `redriveDeadBatches` puts it back on that partition, a writer commits it, and the dead
 * queue is empty. What is not a batch stays where it is, and a re-drive with another partition count
 * than the cluster's is refused before it moves anything.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusCommitClient } from '../../src/bus/bus-commit-client.js';
import { DEAD_PARTITION_HEADER, redriveDeadBatches } from '../../src/bus/bus-dead-redrive.js';
import { busNames } from '../../src/bus/bus-topology.js';
import { BusWriter, type BatchCommitter } from '../../src/bus/bus-writer.js';
import { partitionOf } from '../../src/bus/partitioner.js';
import type { VerifiedReading } from '../../src/pipeline/ports.js';
import { StoreError } from '../../src/pipeline/store-error.js';
import type { SqlReadingStore } from '../../src/store/index.js';
import { runBusCommand } from '../../src/cli/bus-command.js';
import { postgresDriver, type StoreDriver } from '../store/store-fixtures.js';
import { amqpUrl, createVhost, deleteVhost, failIfRabbitRequired, rabbitAvailability } from '../support/rabbitmq.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';

const rabbit = await rabbitAvailability();
const pg = await pgAvailability();
const skip = !rabbit.available || !pg.available;
if (skip)
  console.warn(`dead re-drive suite skipped: ${!rabbit.available ? rabbit.reason : (pg as { reason: string }).reason}`);

const TOPOLOGY = { prefix: 'rd', partitions: 4, maxQueueBytes: 64 * 1024 * 1024, retryDelayMs: 200 };
const BASE_MS = Date.now();

function readings(device: string, count: number): VerifiedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: i + 1,
    ts: BASE_MS - 1_000 + i,
    data: { v: i },
    source: 'tcp' as const,
    receivedAt: BASE_MS,
  }));
}

async function eventually(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skip)('re-driving the bus dead queue', () => {
  let vhost = '';
  let driver: StoreDriver;
  let store: SqlReadingStore;
  let inspector: amqp.ChannelModel;
  let channel: amqp.Channel;
  const names = busNames(TOPOLOGY.prefix);
  const opened: Array<{ close(): Promise<void> }> = [];

  beforeAll(async () => {
    failIfRabbitRequired(rabbit);
    failIfRequired(pg);
    vhost = await createVhost();
    driver = await postgresDriver();
    await driver.setup();
    store = await driver.open();
    await store.migrate();
    inspector = await amqp.connect(amqpUrl(vhost));
    channel = await inspector.createChannel();
  }, 120_000);

  afterAll(async () => {
    for (const thing of opened.reverse()) await thing.close().catch(() => undefined);
    await inspector?.close().catch(() => undefined);
    await store?.close();
    await driver?.teardown();
    if (vhost !== '') await deleteVhost(vhost);
  }, 120_000);

  const deadCount = async (): Promise<number> => (await channel.checkQueue(names.deadQueue)).messageCount;
  const stored = async (device: string): Promise<number> =>
    (await store.readings(device, 0, Date.now() + 60_000, 1_000)).length;

  it('puts a given-up batch back on its partition, where a writer commits it; leaves what is not a batch', async () => {
    const failing: BatchCommitter = {
      commit: () => Promise.reject(new StoreError('store_unavailable', 'the store is away (test)')),
    };
    const sick = await BusWriter.open({
      ...TOPOLOGY,
      url: amqpUrl(vhost),
      instance: 'w-sick',
      store: failing,
      prefetch: 8,
      maxBatchRows: 10_000,
      maxAttempts: 2,
    });
    const gateway = await BusCommitClient.open({
      ...TOPOLOGY,
      url: amqpUrl(vhost),
      instance: 'gw',
      noticeTimeoutMs: 1_500,
      maxPendingParts: 100,
    });
    opened.push(gateway);
    await expect(gateway.commit({ readings: readings('redrive-a', 7), deadLetters: [] })).rejects.toThrow();
    await eventually(async () => (await deadCount()) === 1);
    await sick.close();

    const [dead] = await Promise.all([channel.get(names.deadQueue, { noAck: false })]);
    expect(dead).not.toBe(false);
    if (dead === false) return;
    expect(dead.properties.headers?.[DEAD_PARTITION_HEADER]).toBe(
      String(partitionOf('redrive-a', TOPOLOGY.partitions)),
    );
    channel.nack(dead, false, true);
    // Not a batch: a re-drive must leave it in the dead queue.
    channel.publish(names.dead, '', Buffer.from('not a batch'), { persistent: true });
    await eventually(async () => (await deadCount()) === 2);

    const url = amqpUrl(vhost);
    await expect(redriveDeadBatches({ url, prefix: TOPOLOGY.prefix, partitions: 3, limit: 10 })).rejects.toThrow(
      /PRECONDITION_FAILED/,
    );
    expect(await deadCount()).toBe(2);

    const healthy = await BusWriter.open({
      ...TOPOLOGY,
      url,
      instance: 'w-well',
      store,
      prefetch: 8,
      maxBatchRows: 10_000,
      maxAttempts: 2,
    });
    opened.push(healthy);
    expect(await stored('redrive-a')).toBe(0);
    const outcome = await redriveDeadBatches({ url, prefix: TOPOLOGY.prefix, partitions: 4, limit: 10 });
    expect(outcome).toEqual({ moved: 1, left: 1, found: 2 });
    await eventually(async () => (await stored('redrive-a')) === 7);
    await eventually(async () => (await deadCount()) === 1);
  }, 60_000);

  it('the command checks its settings and never prints the password', async () => {
    const lines: string[] = [];
    const io = { print: (line: string) => lines.push(line), printError: (line: string) => lines.push(line) };
    expect(await runBusCommand(['redrive-dead'], {}, io)).toBe(2);
    expect(await runBusCommand(['redrive-dead', '--amqp-url', 'amqp://x', '--bus-partitions', '0'], {}, io)).toBe(2);
    expect(await runBusCommand(['nonsense'], {}, io)).toBe(2);
    expect(await runBusCommand(['--help'], {}, io)).toBe(0);
    const secret = 'amqp://guest:hunter2-secret@127.0.0.1:1/nowhere';
    expect(await runBusCommand(['redrive-dead', '--amqp-url', secret], {}, io)).toBe(1);
    expect(lines.join('\n')).not.toContain('hunter2');
    lines.length = 0;
    const env = {
      SEALSTREAM_AMQP_URL: amqpUrl(vhost),
      SEALSTREAM_BUS_PREFIX: TOPOLOGY.prefix,
      SEALSTREAM_BUS_PARTITIONS: '4',
    };
    expect(await runBusCommand(['redrive-dead'], env, io)).toBe(0);
    expect(lines.join('\n')).toMatch(/moved 0 of 1 batches from rd\.dead\.q.*1 left there/);
  }, 30_000);
});
