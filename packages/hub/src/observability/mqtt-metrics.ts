/**
 * The MQTT door's metrics, registered on the hub's registry: messages by outcome (handled, refused as a
 * whole, held for the broker's redelivery), how long a message waited for its PUBACK, and the broker
 * connections up, the frames each message carried and the messages in hand (taken, not yet answered).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MqttIngestMetrics } from '../ingest/mqtt/mqtt-ingest.js';

export function createMqttMetrics(registry: Registry): MqttIngestMetrics {
  const messages = new Counter({
    name: 'sealstream_mqtt_messages_total',
    help: 'MQTT messages taken from the broker, by outcome (handled, refused, held, dropped, ignored)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'sealstream_mqtt_message_seconds',
    help: 'From taking an MQTT message to its PUBACK (after commit)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const connected = new Gauge({
    name: 'sealstream_mqtt_connections',
    help: 'Broker connections of this hub that are up',
    registers: [registry],
  });
  const frames = new Histogram({
    name: 'sealstream_mqtt_message_frames',
    help: 'Sealed frames in one handled MQTT message',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [registry],
  });
  const inHand = new Gauge({
    name: 'sealstream_mqtt_messages_in_hand',
    help: 'MQTT messages taken from the broker and not yet answered (PUBACK withheld until commit)',
    registers: [registry],
  });
  return {
    messageFrames: (count) => frames.observe(count),
    messagesInHand: (count) => inHand.set(count),
    messageHandled: (outcome, elapsed) => {
      messages.inc({ outcome });
      seconds.observe(elapsed);
    },
    connectionState: (count) => connected.set(count),
  };
}
