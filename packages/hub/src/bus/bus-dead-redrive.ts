/**
 * Moves the batches writers gave up on (`<p>.dead.q`, kept whole by the broker with their reason) back
 * onto their partitions, once whatever made their commits fail (the store away, a full disk) is fixed.
 * Each is published to `<p>.batches` with publisher confirms and only then acknowledged in the dead
 * queue, so a batch is never in neither queue; a batch in both after a crash is committed twice, and
 * the (device, seq) identity turns the second into duplicates. Its failure headers (`x-death`, reason)
 * are dropped, so it gets its full number of attempts again. Nobody waits for its notice: the devices
 * were answered `store_unavailable` long ago and resent what was theirs.
 *
 * The partition is the one the writer recorded when it gave the batch up (`x-sealstream-partition`),
 * else (a batch given up by an earlier version) that of its first reading's device, which is where the
 * gateway routed it. A message that is not a batch of this version is left in the dead queue.
 */
import amqp, { type ConfirmChannel, type GetMessage } from 'amqplib';
import { decodeBusBatch } from './bus-batch-codec.js';
import { busNames } from './bus-topology.js';
import { partitionOf } from './partitioner.js';

/** Header the writer sets on a batch it moves to the dead queue: the partition it came from. */
export const DEAD_PARTITION_HEADER = 'x-sealstream-partition';
/** Headers that describe a batch's failures: dropped when it is re-driven. */
const FAILURE_HEADERS = ['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason'];

export interface RedriveOptions {
  readonly url: string;
  readonly prefix: string;
  /** The cluster's --bus-partitions (checked against the broker's record of it). */
  readonly partitions: number;
  /** At most this many batches are moved. */
  readonly limit: number;
}

export interface RedriveOutcome {
  /** Batches published back to their partition and removed from the dead queue. */
  readonly moved: number;
  /** Messages left in the dead queue because they are not batches this version can route. */
  readonly left: number;
  /** What the dead queue held when the re-drive started. */
  readonly found: number;
}

export async function redriveDeadBatches(options: RedriveOptions): Promise<RedriveOutcome> {
  const names = busNames(options.prefix);
  const connection = await amqp.connect(options.url, { noDelay: true });
  // A refusal closes the channel with an 'error' event as well as rejecting the call: the rejection is
  // what reports it.
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    // Passive checks first: a re-drive never creates the bus. Then the partition marker, declared with
    // this count, which the broker refuses (PRECONDITION_FAILED) when the cluster has another one.
    await channel.checkExchange(names.batches);
    await channel.checkExchange(names.partitionsMarker);
    await channel.assertExchange(names.partitionsMarker, 'fanout', {
      durable: true,
      arguments: { 'alternate-exchange': `partitions=${options.partitions}` },
    });
    const { messageCount } = await channel.checkQueue(names.deadQueue);
    let moved = 0;
    let left = 0;
    // Unroutable messages stay unacknowledged until the end (so `get` moves past them), then go back.
    const held: GetMessage[] = [];
    for (let seen = 0; seen < messageCount && moved < options.limit; seen += 1) {
      const message = await channel.get(names.deadQueue, { noAck: false });
      if (message === false) break;
      const partition = partitionOfDead(message, options.partitions);
      if (partition === undefined) {
        held.push(message);
        left += 1;
        continue;
      }
      await publishConfirmed(channel, names.batches, String(partition), message);
      channel.ack(message);
      moved += 1;
    }
    for (const message of held) channel.nack(message, false, true);
    await channel.close();
    return { moved, left, found: messageCount };
  } finally {
    await connection.close().catch(() => undefined);
  }
}

function partitionOfDead(message: GetMessage, partitions: number): number | undefined {
  let device: string | undefined;
  try {
    device = decodeBusBatch(message.content).readings[0]?.device;
  } catch {
    return undefined; // a writer would only give it up again
  }
  const recorded = Number(message.properties.headers?.[DEAD_PARTITION_HEADER]);
  if (Number.isInteger(recorded) && recorded >= 0 && recorded < partitions) return recorded;
  return device === undefined ? undefined : partitionOf(device, partitions);
}

function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  message: GetMessage,
): Promise<void> {
  const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
  for (const name of FAILURE_HEADERS) delete headers[name];
  for (const name of Object.keys(headers)) if (name.startsWith('x-sealstream-')) delete headers[name];
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      routingKey,
      message.content,
      {
        persistent: true,
        mandatory: true,
        headers,
        ...(typeof message.properties.contentType === 'string' ? { contentType: message.properties.contentType } : {}),
      },
      (error: unknown) =>
        error === null || error === undefined
          ? resolve()
          : reject(new Error(`the broker refused the batch on partition ${routingKey} (queue full?)`)),
    );
  });
}
