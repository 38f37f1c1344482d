/**
 * XRayIOT's RabbitMQ topology (design §4.6), asserted by the hub: its producer declares only the
 * exchange, so without these queues and bindings its messages would be dropped as unroutable.
 *
 *   iot.xray (topic, durable) --xray.raw.v1--> xray.raw.q (durable; DLX iot.dlx, key xray.raw.fail)
 *   iot.dlx  (topic, durable) --xray.raw.fail--> xray.raw.dlq (durable)
 *   xray.raw.v1.retry (durable; dead-letters expired messages to iot.xray with key xray.raw.v1)
 *
 * The retry delay is set per message (its `expiration`), not on the queue, so changing it never
 * conflicts with the queue as an earlier hub declared it.
 *
 * `device.status.v1` (the producer's status updates) is deliberately not bound: the hub stores
 * telemetry, not device presence, so the broker drops those messages as it does today.
 */
import type { Channel } from 'amqplib';

export const XRAY_TOPOLOGY = {
  exchange: 'iot.xray',
  routingKey: 'xray.raw.v1',
  queue: 'xray.raw.q',
  deadLetterExchange: 'iot.dlx',
  deadLetterQueue: 'xray.raw.dlq',
  deadLetterRoutingKey: 'xray.raw.fail',
  retryQueue: 'xray.raw.v1.retry',
} as const;

/** The header a dead-lettered message carries its reason code in (and its detail beside it). */
export const REJECT_REASON_HEADER = 'x-reject-reason';
export const REJECT_DETAIL_HEADER = 'x-reject-detail';

/** Declares everything; idempotent, and refuses (the broker closes the channel) on a conflicting declaration. */
export async function assertXrayTopology(channel: Channel): Promise<void> {
  const t = XRAY_TOPOLOGY;
  await channel.assertExchange(t.exchange, 'topic', { durable: true });
  await channel.assertExchange(t.deadLetterExchange, 'topic', { durable: true });
  await channel.assertQueue(t.queue, {
    durable: true,
    arguments: { 'x-dead-letter-exchange': t.deadLetterExchange, 'x-dead-letter-routing-key': t.deadLetterRoutingKey },
  });
  await channel.bindQueue(t.queue, t.exchange, t.routingKey);
  await channel.assertQueue(t.deadLetterQueue, { durable: true });
  await channel.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.deadLetterRoutingKey);
  await channel.assertQueue(t.retryQueue, {
    durable: true,
    arguments: {
      'x-dead-letter-exchange': t.exchange,
      'x-dead-letter-routing-key': t.routingKey,
    },
  });
}
