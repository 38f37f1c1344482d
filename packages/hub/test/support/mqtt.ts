/**
 * Test access to the local MQTT broker: its URL (SEALSTREAM_TEST_MQTT_URL or the local default) and
 * whether it answers a CONNECT. Suites skip with the reason when it is missing, except under CI=true.
 */
import mqtt from 'mqtt';

export const MQTT_TEST_URL = process.env['SEALSTREAM_TEST_MQTT_URL'] ?? 'mqtt://127.0.0.1:1883';

export type MqttAvailability = { available: true } | { available: false; reason: string };

export function mqttRequired(): boolean {
  return process.env['CI'] === 'true';
}

export async function mqttAvailability(): Promise<MqttAvailability> {
  try {
    const client = await mqtt.connectAsync(MQTT_TEST_URL, { connectTimeout: 3000, reconnectPeriod: 0 });
    await client.endAsync(true);
    return { available: true };
  } catch (error) {
    return { available: false, reason: `MQTT test broker unreachable (${(error as Error).message})` };
  }
}
