/**
 * The MQTT door's metrics, registered on the hub's registry: messages by outcome (handled, refused as a
 * whole, held for the broker's redelivery), how long a message waited for its PUBACK, and the broker
 * connections up.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MqttIngestMetrics } from '../ingest/mqtt/mqtt-ingest.js';

export function createMqttMetrics(registry: Registry): MqttIngestMetrics {
  const messages = new Counter({
    name: 'sealstream_mqtt_messages_total',
    help: 'MQTT messages taken from the broker, by outcome (handled, refused, held)',
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
  return {
    messageHandled: (outcome, elapsed) => {
      messages.inc({ outcome });
      seconds.observe(elapsed);
    },
    connectionState: (count) => connected.set(count),
  };
}
