/**
 * The AMQP door's metrics, registered on the hub's registry: messages and body bytes in hand (taken from
 * the broker, not yet settled) and how often the byte budget paused the consumer.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { XrayConsumerMetrics } from '../ingest/amqp/xray-consumer.js';

export function createAmqpMetrics(registry: Registry): XrayConsumerMetrics {
  const messages = new Gauge({
    name: 'sealstream_amqp_messages_in_hand',
    help: 'AMQP messages taken from the broker and not yet settled (acked after commit, or after their copy)',
    registers: [registry],
  });
  const bytes = new Gauge({
    name: 'sealstream_amqp_bytes_in_hand',
    help: 'Body bytes of the AMQP messages in hand (bounded by --amqp-max-in-hand-bytes)',
    registers: [registry],
  });
  const pauses = new Counter({
    name: 'sealstream_amqp_consumer_pauses_total',
    help: 'Times the AMQP consumer paused because the bodies in hand reached --amqp-max-in-hand-bytes',
    registers: [registry],
  });
  return {
    inHand: (count, total) => {
      messages.set(count);
      bytes.set(total);
    },
    paused: () => pauses.inc(),
  };
}
