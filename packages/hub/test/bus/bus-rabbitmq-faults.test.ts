/**
 * The bus's start and repair paths against the local RabbitMQ and PostgreSQL: a start the broker
 * refuses (another --bus-max-queue-bytes or --bus-partitions, a wrong password) or cannot reach fails
 * with a typed error that names the cause and never the password; a partition queue deleted under a
 * writer is declared and consumed again; two writers share the partitions; refusal counts alone reach
 * the api nodes' feed.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BusCommitClient } from '../../src/bus/bus-commit-client.js';
import { BusCommittedFeed } from '../../src/bus/bus-committed-feed.js';
import { BusError } from '../../src/bus/bus-errors.js';
import { BusStartError } from '../../src/bus/bus-start-errors.js';
import { BusWriter, type BatchCommitter } from '../../src/bus/bus-writer.js';
import type { CommitBatch, VerifiedReading } from '../../src/pipeline/ports.js';
import type { SqlReadingStore } from '../../src/store/index.js';
import { postgresDriver, type StoreDriver } from '../store/store-fixtures.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';
import { amqpUrl, createVhost, deleteVhost, failIfRabbitRequired, rabbitAvailability } from '../support/rabbitmq.js';

const rabbit = await rabbitAvailability();
const pg = await pgAvailability();
const skip = !rabbit.available || !pg.available;
if (skip)
  console.warn(`bus faults suite skipped: ${!rabbit.available ? rabbit.reason : (pg as { reason: string }).reason}`);

const TOPOLOGY = { prefix: 'sf', partitions: 4, maxQueueBytes: 64 * 1024 * 1024, retryDelayMs: 300 };
const BASE_MS = Date.now();

function readings(device: string, from: number, count: number): VerifiedReading[] {
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: from + i,
    ts: BASE_MS - 1_000 + from + i,
    data: { v: from + i },
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

async function startFailure(start: () => Promise<unknown>): Promise<BusStartError> {
  const began = Date.now();
  const error = await start().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(BusStartError);
  // At once (not after the 30 s start bound): retrying cannot fix any of these.
  expect(Date.now() - began).toBeLessThan(10_000);
  return error as BusStartError;
}

describe.skipIf(skip)('bus start failures and repairs over RabbitMQ', () => {
  let vhost = '';
  let driver: StoreDriver;
  let store: SqlReadingStore;
  const opened: Array<{ close(): Promise<void> }> = [];

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
    for (const thing of opened.reverse()) await thing.close().catch(() => undefined);
    await store?.close();
    await driver?.teardown();
    if (vhost !== '') await deleteVhost(vhost);
  }, 120_000);

  function writerOptions(topology: typeof TOPOLOGY, instance: string, committer: BatchCommitter = store) {
    return {
      ...topology,
      url: amqpUrl(vhost),
      instance,
      store: committer,
      prefetch: 16,
      maxBatchRows: 10_000,
      maxAttempts: 5,
    };
  }

  async function gateway(topology: typeof TOPOLOGY, instance: string): Promise<BusCommitClient> {
    const client = await BusCommitClient.open({
      ...topology,
      url: amqpUrl(vhost),
      instance,
      noticeTimeoutMs: 10_000,
      maxPendingParts: 1_000,
    });
    opened.push(client);
    return client;
  }

  it('a writer or gateway with another --bus-max-queue-bytes fails its start at once, naming the mismatch', async () => {
    const topology = { ...TOPOLOGY, prefix: 'sf-bytes' };
    opened.push(await BusWriter.open(writerOptions(topology, 'w-bytes')));
    const other = { ...topology, maxQueueBytes: 1_000_000 };
    const writerError = await startFailure(() => BusWriter.open(writerOptions(other, 'w-bytes-2')));
    expect(writerError.code).toBe('bus_topology_mismatch');
    expect(writerError.message).toMatch(/x-max-length-bytes/);
    expect(writerError.message).toMatch(/--bus-max-queue-bytes/);
    const gatewayError = await startFailure(() => gateway(other, 'gw-bytes'));
    expect(gatewayError.code).toBe('bus_topology_mismatch');
  });

  it('a gateway with another --bus-partitions is refused before it declares a queue no writer consumes', async () => {
    const topology = { ...TOPOLOGY, prefix: 'sf-parts' };
    opened.push(await BusWriter.open(writerOptions(topology, 'w-parts')));
    const error = await startFailure(() => gateway({ ...topology, partitions: 16 }, 'gw-parts'));
    expect(error.code).toBe('bus_topology_mismatch');
    expect(error.message).toMatch(/partitions=16.*partitions=4/);
    const check = await amqp.connect(amqpUrl(vhost));
    try {
      const channel = await check.createChannel();
      channel.on('error', () => undefined);
      await expect(channel.checkQueue('sf-parts.batches.8')).rejects.toThrow(/NOT_FOUND/);
    } finally {
      await check.close().catch(() => undefined);
    }
  });

  it('a wrong password fails the start at once, and the error never holds the password', async () => {
    const url = amqpUrl(vhost).replace('guest:guest@', 'guest:s3cret-wrong@');
    const error = await startFailure(() =>
      BusWriter.open({ ...writerOptions({ ...TOPOLOGY, prefix: 'sf-auth' }, 'w-auth'), url }),
    );
    expect(error.code).toBe('bus_auth_refused');
    expect(error.message).toMatch(/ACCESS_REFUSED/);
    expect(error.message).toMatch(/user guest/);
    expect(error.message).not.toMatch(/s3cret/);
  });

  it('a missing vhost fails the start at once', async () => {
    const url = amqpUrl(`${vhost}-missing`);
    const error = await startFailure(() =>
      BusWriter.open({ ...writerOptions({ ...TOPOLOGY, prefix: 'sf-vhost' }, 'w-vhost'), url }),
    );
    expect(error.code).toBe('bus_not_allowed');
    expect(error.message).toMatch(/virtual host/);
  });

  it('an unreachable broker fails the start after the start bound', async () => {
    const began = Date.now();
    const error = await BusCommitClient.open({
      ...TOPOLOGY,
      url: 'amqp://guest:s3cret@127.0.0.1:1/',
      instance: 'gw-away',
      noticeTimeoutMs: 1_000,
      maxPendingParts: 10,
      startTimeoutMs: 1_500,
    }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(BusStartError);
    expect((error as BusStartError).code).toBe('bus_unreachable');
    expect((error as BusStartError).message).toMatch(/127\.0\.0\.1:1 .*ECONNREFUSED/);
    expect((error as BusStartError).message).not.toMatch(/s3cret/);
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_400);
  });

  it('a partition queue deleted under a writer is declared and consumed again; a later batch commits', async () => {
    const topology = { ...TOPOLOGY, prefix: 'sf-del' };
    const errors: string[] = [];
    const w = await BusWriter.open({ ...writerOptions(topology, 'w-del'), onError: (e) => errors.push(e.message) });
    opened.push(w);
    const client = await gateway(topology, 'gw-del');
    const devices = Array.from({ length: 12 }, (_, d) => `del-${d}`);
    await client.commit({ readings: devices.flatMap((d) => readings(d, 1, 2)), deadLetters: [] });
    const admin = await amqp.connect(amqpUrl(vhost));
    opened.push({ close: () => admin.close() });
    const channel = await admin.createChannel();
    await channel.deleteQueue('sf-del.batches.0');
    await eventually(() => errors.some((message) => /cancelled/.test(message)));
    // A check of a queue not there yet closes its channel (404): one channel per look.
    const consumers = async (): Promise<number> => {
      const look = await admin.createChannel();
      look.on('error', () => undefined);
      try {
        return (await look.checkQueue('sf-del.batches.0')).consumerCount;
      } catch {
        return 0;
      } finally {
        await look.close().catch(() => undefined);
      }
    };
    await eventually(async () => (await consumers()) >= 1, 30_000);
    let result;
    for (let attempt = 0; attempt < 40 && result === undefined; attempt += 1) {
      try {
        result = await client.commit({ readings: devices.flatMap((d) => readings(d, 3, 2)), deadLetters: [] });
      } catch (error) {
        expect(error).toBeInstanceOf(BusError);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    expect(result?.inserted.every(Boolean)).toBe(true);
    for (const device of devices) {
      expect((await store.readings(device, 0, Date.now() + 60_000, 100)).length).toBe(4);
    }
  }, 60_000);

  it('two writers share the partitions: both commit, each batch once and in order per device', async () => {
    const topology = { ...TOPOLOGY, prefix: 'sf-share' };
    const commits = new Map<string, number>([
      ['a', 0],
      ['b', 0],
    ]);
    const order = new Map<string, number[]>();
    const counting = (name: string): BatchCommitter => ({
      commit: async (batch: CommitBatch) => {
        const result = await store.commit(batch);
        commits.set(name, (commits.get(name) ?? 0) + 1);
        for (const reading of batch.readings) {
          const seqs = order.get(reading.device) ?? [];
          seqs.push(reading.seq);
          order.set(reading.device, seqs);
        }
        return result;
      },
    });
    const handovers: number[] = [];
    const options = { rebalanceIntervalMs: 300, onHandover: (partition: number) => handovers.push(partition) };
    opened.push(await BusWriter.open({ ...writerOptions(topology, 'w-a', counting('a')), ...options }));
    opened.push(await BusWriter.open({ ...writerOptions(topology, 'w-b', counting('b')), ...options }));
    const client = await gateway(topology, 'gw-share');
    const devices = Array.from({ length: 16 }, (_, d) => `share-${d}`);
    let round = 0;
    let inserted = 0;
    const send = async (): Promise<void> => {
      const result = await client.commit({
        readings: devices.flatMap((d) => readings(d, round * 3 + 1, 3)),
        deadLetters: [],
      });
      inserted += result.inserted.filter(Boolean).length;
      round += 1;
    };
    await eventually(async () => {
      await send();
      return handovers.length >= 2 && (commits.get('a') ?? 0) > 0 && (commits.get('b') ?? 0) > 0;
    }, 30_000);
    // Still both after the handovers settled.
    const before = new Map(commits);
    for (let k = 0; k < 20; k += 1) await send();
    expect((commits.get('a') ?? 0) - (before.get('a') ?? 0)).toBeGreaterThan(0);
    expect((commits.get('b') ?? 0) - (before.get('b') ?? 0)).toBeGreaterThan(0);
    expect(inserted).toBe(round * devices.length * 3);
    for (const device of devices) {
      const seqs = order.get(device) ?? [];
      expect(seqs).toEqual(Array.from({ length: round * 3 }, (_, i) => i + 1));
    }
  }, 60_000);

  it('a commit carrying only refusal counts reaches the api nodes at once', async () => {
    const topology = { ...TOPOLOGY, prefix: 'sf-refusals' };
    const batches: CommitBatch[] = [];
    const feed = await BusCommittedFeed.open({
      url: amqpUrl(vhost),
      prefix: topology.prefix,
      instance: 'api-refusals',
      maxQueuedMessages: 100,
      maxQueuedBytes: 1024 * 1024,
      sink: { committed: () => undefined, rejected: () => undefined },
      onBatch: (batch) => batches.push(batch),
    });
    opened.push(feed);
    opened.push(await BusWriter.open(writerOptions(topology, 'w-refusals')));
    const client = await gateway(topology, 'gw-refusals');
    await client.commit({
      readings: [],
      deadLetters: [],
      refusalCounts: [{ device: 'ref-a', reason: 'bad_signature', receivedAt: Date.now(), count: 3 }],
    });
    await eventually(() => batches.some((batch) => batch.refusalCounts?.[0]?.count === 3), 10_000);
  });
});
