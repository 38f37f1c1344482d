/**
 * The bus's exchanges and queues on RabbitMQ, declared idempotently by every gateway and writer:
 *
 *   <p>.batches (direct) ──key "<i>"──► <p>.batches.<i>   quorum, single active consumer, bounded (reject-publish)
 *        ▲                                   │ nack (a commit failed)
 *        │ TTL expired (same key)            ▼
 *   <p>.retry.q (classic, message TTL) ◄── <p>.retry (fanout)        at-least-once dead-lettering
 *   <p>.dead (fanout) ──► <p>.dead.q  batches given up on after `maxAttempts`, kept for an operator
 *   <p>.committed (fanout) ──► one bounded queue per api node (drop-head): committed readings for live views
 *   <p>.partitions (fanout, unused for messages): its alternate-exchange argument records the partition
 *       count, so a process with another --bus-partitions is refused (PRECONDITION_FAILED) before it
 *       declares a queue no writer consumes (the broker compares only known arguments, and this is one)
 *   <p>.writers (classic, holds nothing): every writer consumes it, so its consumer count is the number
 *       of writers (a partition queue's count shows only its single active consumer)
 *
 * Why partition queues rather than one queue: one device's readings stay on one partition, a single
 * active consumer per partition keeps them in order, and writers never race on a (device, seq).
 */
import type { Channel } from 'amqplib';

export interface BusTopologyOptions {
  /** Name prefix, e.g. "sealstream"; lets several clusters (or test runs) share a vhost. */
  readonly prefix: string;
  readonly partitions: number;
  /** Bound of each partition queue; beyond it publishes are refused (nacked) and gateways back off. */
  readonly maxQueueBytes: number;
  /** How long a batch whose commit failed waits before it is tried again. */
  readonly retryDelayMs: number;
}

export interface BusNames {
  readonly batches: string;
  readonly retry: string;
  readonly retryQueue: string;
  readonly dead: string;
  readonly deadQueue: string;
  readonly committed: string;
  readonly partitionsMarker: string;
  readonly writers: string;
  partitionQueue(partition: number): string;
}

export function busNames(prefix: string): BusNames {
  return {
    batches: `${prefix}.batches`,
    retry: `${prefix}.retry`,
    retryQueue: `${prefix}.retry.q`,
    dead: `${prefix}.dead`,
    deadQueue: `${prefix}.dead.q`,
    committed: `${prefix}.committed`,
    partitionsMarker: `${prefix}.partitions`,
    writers: `${prefix}.writers`,
    partitionQueue: (partition) => `${prefix}.batches.${partition}`,
  };
}

export async function declareBusTopology(channel: Channel, options: BusTopologyOptions): Promise<BusNames> {
  const names = busNames(options.prefix);
  // First, so a process with another partition count is refused before it declares anything else.
  await channel.assertExchange(names.partitionsMarker, 'fanout', {
    durable: true,
    arguments: { 'alternate-exchange': `partitions=${options.partitions}` },
  });
  await channel.assertExchange(names.batches, 'direct', { durable: true });
  await channel.assertExchange(names.retry, 'fanout', { durable: true });
  await channel.assertExchange(names.dead, 'fanout', { durable: true });
  await channel.assertExchange(names.committed, 'fanout', { durable: true });
  await channel.assertQueue(names.retryQueue, {
    durable: true,
    arguments: { 'x-message-ttl': options.retryDelayMs, 'x-dead-letter-exchange': names.batches },
  });
  await channel.bindQueue(names.retryQueue, names.retry, '');
  await channel.assertQueue(names.deadQueue, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await channel.bindQueue(names.deadQueue, names.dead, '');
  for (let partition = 0; partition < options.partitions; partition += 1) {
    const queue = names.partitionQueue(partition);
    await channel.assertQueue(queue, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-single-active-consumer': true,
        'x-max-length-bytes': options.maxQueueBytes,
        'x-overflow': 'reject-publish',
        'x-dead-letter-exchange': names.retry,
        'x-dead-letter-strategy': 'at-least-once',
      },
    });
    await channel.bindQueue(queue, names.batches, String(partition));
  }
  return names;
}
