/**
 * The bus against the local RabbitMQ and PostgreSQL: a gateway's commit is answered only after a
 * writer committed it; resends are duplicates; a lost writer, a cut connection and a failing store
 * lose nothing; a full partition queue refuses instead of growing.
 */
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  NOTICE_BUNDLE_HEADER,
  NOTICE_BUNDLE_TYPE,
  decodeCommitNotice,
  decodeNoticeBundle,
  encodeBusBatch,
} from '../../src/bus/bus-batch-codec.js';
import { BusCommitClient } from '../../src/bus/bus-commit-client.js';
import { BusCommittedFeed } from '../../src/bus/bus-committed-feed.js';
import { BusError } from '../../src/bus/bus-errors.js';
import { BusWriter, type BatchCommitter } from '../../src/bus/bus-writer.js';
import { busNames } from '../../src/bus/bus-topology.js';
import { partitionOf } from '../../src/bus/partitioner.js';
import type { CommitBatch, VerifiedReading } from '../../src/pipeline/ports.js';
import { StoreError, storeErrorCodeOf } from '../../src/pipeline/store-error.js';
import type { SqlReadingStore } from '../../src/store/index.js';
import { postgresDriver, type StoreDriver } from '../store/store-fixtures.js';
import {
  amqpUrl,
  closeVhostConnections,
  createVhost,
  deleteVhost,
  failIfRabbitRequired,
  rabbitAvailability,
} from '../support/rabbitmq.js';
import { failIfRequired, pgAvailability } from '../support/postgres.js';

const rabbit = await rabbitAvailability();
const pg = await pgAvailability();
const skip = !rabbit.available || !pg.available;
if (skip) console.warn(`bus suite skipped: ${!rabbit.available ? rabbit.reason : (pg as { reason: string }).reason}`);

const TOPOLOGY = { prefix: 'ss', partitions: 4, maxQueueBytes: 64 * 1024 * 1024, retryDelayMs: 300 };

/** One time base for the suite: a resend must carry the same (device, seq, ts) as the original. */
const BASE_MS = Date.now();

function readings(device: string, from: number, count: number): VerifiedReading[] {
  const now = BASE_MS;
  return Array.from({ length: count }, (_, i) => ({
    device,
    seq: from + i,
    ts: now - 1_000 + from + i,
    data: { v: from + i },
    source: 'tcp' as const,
    receivedAt: now,
  }));
}

async function eventually(check: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe.skipIf(skip)('bus over RabbitMQ into PostgreSQL', () => {
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

  async function gateway(instance: string, noticeTimeoutMs = 10_000): Promise<BusCommitClient> {
    const client = await BusCommitClient.open({
      ...TOPOLOGY,
      url: amqpUrl(vhost),
      instance,
      noticeTimeoutMs,
      maxPendingParts: 1_000,
    });
    opened.push(client);
    return client;
  }

  async function writer(
    instance: string,
    committer: BatchCommitter = store,
    extra: Partial<{ maxAttempts: number }> = {},
  ) {
    const w = await BusWriter.open({
      ...TOPOLOGY,
      url: amqpUrl(vhost),
      instance,
      store: committer,
      prefetch: 16,
      maxBatchRows: 10_000,
      maxAttempts: extra.maxAttempts ?? 5,
    });
    opened.push(w);
    return w;
  }

  async function countStored(device: string): Promise<number> {
    return (await store.readings(device, 0, Date.now() + 60_000, 100_000)).length;
  }

  it('answers a commit only after a writer stored it; a resend is a duplicate; live nodes see it', async () => {
    const seen: VerifiedReading[] = [];
    const feed = await BusCommittedFeed.open({
      url: amqpUrl(vhost),
      prefix: TOPOLOGY.prefix,
      instance: 'api-1',
      maxQueuedMessages: 1_000,
      maxQueuedBytes: 16 * 1024 * 1024,
      sink: { committed: (r) => seen.push(...r), rejected: () => undefined },
    });
    opened.push(feed);
    const client = await gateway('gw-1');
    await writer('w-1');
    const batch: CommitBatch = {
      readings: [...readings('bus-a', 1, 20), ...readings('bus-b', 1, 20), ...readings('bus-c', 1, 5)],
      deadLetters: [],
    };
    const first = await client.commit(batch);
    expect(first.inserted.every(Boolean)).toBe(true);
    expect(await countStored('bus-a')).toBe(20);
    const again = await client.commit(batch);
    expect(again.inserted.some(Boolean)).toBe(false);
    await eventually(() => seen.length === 45);
  });

  it('answers the batches one commit merged in one notice per gateway that reads bundles, else one per batch', async () => {
    // A raw client stands for two gateways: one of this version (header set) and one of the version
    // before (no header). The writer's first commit is held for a moment, so the batches that arrive
    // meanwhile are merged into its second commit.
    const connection = await amqp.connect(amqpUrl(vhost));
    const channel = await connection.createChannel();
    try {
      const names = busNames(TOPOLOGY.prefix);
      await writer('w-notices').then((w) => w.close());
      const replies = new Map<string, amqp.ConsumeMessage[]>();
      const replyQueue = async (label: string): Promise<string> => {
        const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
        replies.set(label, []);
        await channel.consume(queue, (message) => message && replies.get(label)?.push(message), { noAck: true });
        return queue;
      };
      const bundling = await replyQueue('bundling');
      const single = await replyQueue('single');
      const device = (k: number): string => `notice-dev-${k}`;
      const partition = partitionOf(device(0), TOPOLOGY.partitions);
      const send = (replyTo: string, id: string, k: number, bundles: boolean): void => {
        channel.publish(
          names.batches,
          String(partition),
          encodeBusBatch({ readings: readings(device(0), k * 10, 3), deadLetters: [] }),
          {
            persistent: true,
            correlationId: id,
            replyTo,
            contentType: 'application/json',
            ...(bundles ? { headers: { [NOTICE_BUNDLE_HEADER]: 1 } } : {}),
          },
        );
      };
      for (let k = 0; k < 3; k += 1) send(bundling, `new-${k}`, k, true);
      for (let k = 3; k < 6; k += 1) send(single, `old-${k}`, k, false);
      let first = true;
      const slowFirst: BatchCommitter = {
        async commit(batch) {
          if (first) {
            first = false;
            await new Promise((resolve) => setTimeout(resolve, 500));
          }
          return store.commit(batch);
        },
      };
      await writer('w-notices-2', slowFirst);
      await eventually(() => (replies.get('single')?.length ?? 0) === 3 && (replies.get('bundling')?.length ?? 0) > 0);
      await new Promise((resolve) => setTimeout(resolve, 300));

      const olds = replies.get('single') ?? [];
      expect(olds.map((m) => m.properties.correlationId as string).sort()).toEqual(['old-3', 'old-4', 'old-5']);
      for (const message of olds) {
        expect(message.properties.type).toBeUndefined();
        expect(decodeCommitNotice(message.content, 3)).toEqual([true, true, true]);
      }
      const bundles = replies.get('bundling') ?? [];
      // The first commit took new-0 alone; the second took the five that waited: one bundle for the two.
      expect(bundles).toHaveLength(2);
      for (const bundle of bundles) expect(bundle.properties.type).toBe(NOTICE_BUNDLE_TYPE);
      expect(decodeNoticeBundle(bundles[0]?.content ?? Buffer.alloc(0))).toEqual([
        { correlationId: 'new-0', bits: '111' },
      ]);
      expect(decodeNoticeBundle(bundles[1]?.content ?? Buffer.alloc(0))).toEqual([
        { correlationId: 'new-1', bits: '111' },
        { correlationId: 'new-2', bits: '111' },
      ]);
    } finally {
      await connection.close().catch(() => undefined);
    }
  });

  it('two writers: every reading stored once, in partitions that one writer at a time consumes', async () => {
    const client = await gateway('gw-2');
    await writer('w-2');
    const commits = Array.from({ length: 20 }, (_, k) =>
      client.commit({
        readings: Array.from({ length: 10 }, (_, d) => readings(`two-${d}`, k * 10 + 1, 10)).flat(),
        deadLetters: [],
      }),
    );
    const results = await Promise.all(commits);
    expect(results.flatMap((r) => r.inserted).filter(Boolean).length).toBe(2_000);
    for (let d = 0; d < 10; d += 1) expect(await countStored(`two-${d}`)).toBe(200);
  });

  it('commits in parallel on disjoint partitions: each device in order, no partition in two commits at once', async () => {
    const topology = { ...TOPOLOGY, prefix: 'ss-par' };
    const held = new Map<number, number>();
    let inFlight = 0;
    let overlapped = 0;
    const order = new Map<string, number[]>();
    const watching: BatchCommitter = {
      commit: async (batch) => {
        const partitions = new Set(batch.readings.map((r) => partitionOf(r.device, topology.partitions)));
        for (const p of partitions) {
          expect(held.has(p), `partition ${p} in two commits at once`).toBe(false);
          held.set(p, 1);
        }
        inFlight += 1;
        if (inFlight > 1) overlapped += 1;
        for (const r of batch.readings) order.set(r.device, [...(order.get(r.device) ?? []), r.seq]);
        try {
          await new Promise((resolve) => setTimeout(resolve, 20)); // long enough for the next commit to start
          return await store.commit(batch);
        } finally {
          inFlight -= 1;
          for (const p of partitions) held.delete(p);
        }
      },
    };
    const w = await BusWriter.open({
      ...topology,
      url: amqpUrl(vhost),
      instance: 'w-par',
      store: watching,
      prefetch: 16,
      maxBatchRows: 10_000,
      maxAttempts: 5,
      concurrency: 2,
    });
    opened.push(w);
    const client = await BusCommitClient.open({
      ...topology,
      url: amqpUrl(vhost),
      instance: 'gw-par',
      noticeTimeoutMs: 10_000,
      maxPendingParts: 1_000,
    });
    opened.push(client);
    const devices = Array.from({ length: 12 }, (_, d) => `par-${d}`);
    const commits: Array<Promise<unknown>> = [];
    for (let k = 0; k < 30; k += 1) {
      commits.push(client.commit({ readings: devices.flatMap((d) => readings(d, k * 5 + 1, 5)), deadLetters: [] }));
      if (k % 3 === 2) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(commits);
    expect(overlapped).toBeGreaterThan(0);
    for (const device of devices) {
      const seqs = order.get(device) ?? [];
      expect(seqs, device).toEqual(Array.from({ length: 150 }, (_, i) => i + 1));
      expect(await countStored(device)).toBe(150);
    }
  }, 60_000);

  it('a cut connection fails the commits in flight and reconnects; the resend stores each reading once', async () => {
    const client = await gateway('gw-3', 3_000);
    await writer('w-3');
    const batch: CommitBatch = { readings: readings('cut-a', 1, 50), deadLetters: [] };
    await client.commit(batch);
    await closeVhostConnections(vhost);
    await eventually(() => client.connected, 30_000);
    let result;
    for (let attempt = 0; attempt < 20 && result === undefined; attempt += 1) {
      try {
        result = await client.commit({ readings: readings('cut-a', 1, 100), deadLetters: [] });
      } catch (error) {
        expect(error).toBeInstanceOf(BusError);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
    expect(result?.inserted.filter(Boolean).length).toBe(50);
    expect(await countStored('cut-a')).toBe(100);
  }, 60_000);

  it('a batch whose commit fails goes through the retry queue and commits when the store is back', async () => {
    let failures = 2;
    const flaky: BatchCommitter = {
      commit: (batch) => (failures-- > 0 ? Promise.reject(new Error('store down')) : store.commit(batch)),
    };
    const client = await gateway('gw-4', 20_000);
    // The writers opened by earlier tests still hold the partitions: this suite's flaky writer needs its own prefix.
    const retryTopology = { ...TOPOLOGY, prefix: 'ss-retry' };
    const w = await BusWriter.open({
      ...retryTopology,
      url: amqpUrl(vhost),
      instance: 'w-flaky',
      store: flaky,
      prefetch: 4,
      maxBatchRows: 1_000,
      maxAttempts: 5,
    });
    opened.push(w);
    const retryClient = await BusCommitClient.open({
      ...retryTopology,
      url: amqpUrl(vhost),
      instance: 'gw-4b',
      noticeTimeoutMs: 20_000,
      maxPendingParts: 100,
    });
    opened.push(retryClient);
    const result = await retryClient.commit({ readings: readings('retry-a', 1, 10), deadLetters: [] });
    expect(result.inserted.filter(Boolean).length).toBe(10);
    expect(failures).toBeLessThan(0);
    expect(client.connected).toBe(true);
  }, 60_000);

  it('a batch the store refuses for one row is answered refused (the gateway splits it), never retried or dead', async () => {
    const topology = { ...TOPOLOGY, prefix: 'ss-refuse' };
    const refusing: BatchCommitter = {
      commit: async (batch) => {
        if (batch.readings.some((reading) => reading.device === 'poison')) {
          throw new StoreError('store_refused_data', 'value out of range (22003)');
        }
        return store.commit(batch);
      },
    };
    const w = await BusWriter.open({
      ...topology,
      url: amqpUrl(vhost),
      instance: 'w-refuse',
      store: refusing,
      prefetch: 16,
      maxBatchRows: 10_000,
      maxAttempts: 2,
    });
    opened.push(w);
    const client = await BusCommitClient.open({
      ...topology,
      url: amqpUrl(vhost),
      instance: 'gw-refuse',
      noticeTimeoutMs: 10_000,
      maxPendingParts: 1_000,
    });
    opened.push(client);
    // Sent together, so the writer may merge them into one refused commit: the good one still commits.
    const [poisoned, good] = await Promise.allSettled([
      client.commit({ readings: readings('poison', 1, 3), deadLetters: [] }),
      client.commit({ readings: readings('fine', 1, 3), deadLetters: [] }),
    ]);
    expect(poisoned.status).toBe('rejected');
    expect(storeErrorCodeOf((poisoned as PromiseRejectedResult).reason)).toBe('store_refused_data');
    expect(good.status).toBe('fulfilled');
    expect(await countStored('fine')).toBe(3);
    // Refused is an answer, not an outage: nothing waits in the retry queue or lands in the dead queue.
    await new Promise((resolve) => setTimeout(resolve, TOPOLOGY.retryDelayMs * 3));
    const check = await (await import('amqplib')).default.connect(amqpUrl(vhost));
    try {
      const channel = await check.createChannel();
      expect((await channel.checkQueue('ss-refuse.dead.q')).messageCount).toBe(0);
      expect((await channel.checkQueue('ss-refuse.retry.q')).messageCount).toBe(0);
    } finally {
      await check.close();
    }
  });

  it('a full partition queue refuses the publish (reject-publish) instead of growing', async () => {
    const tiny = { ...TOPOLOGY, prefix: 'ss-full', partitions: 1, maxQueueBytes: 2_000 };
    const client = await BusCommitClient.open({
      ...tiny,
      url: amqpUrl(vhost),
      instance: 'gw-full',
      noticeTimeoutMs: 5_000,
      maxPendingParts: 100,
    });
    opened.push(client);
    // Spaced out: a quorum queue checks its bound as each publish is applied, so a burst may overshoot it a little.
    const commits: Array<Promise<string>> = [];
    for (let k = 0; k < 10; k += 1) {
      const commit = client.commit({ readings: readings('full-a', k * 20 + 1, 20), deadLetters: [] });
      commits.push(
        commit.then(
          () => 'ok',
          (error: unknown) => (error instanceof BusError ? error.code : 'other'),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const codes = await Promise.all(commits);
    expect(codes).toContain('bus_full');
  }, 30_000);
});
