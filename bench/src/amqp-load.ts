/**
 * The amqp-xray load: XRayIOT producer messages (design §4.6: its exchange, headers and body, signed
 * with a string secret) published to RabbitMQ in a vhost of the bench's own, which the hub consumes.
 * Each message carries the seed's sample data with one point, so one message is one reading plus one
 * signal summary.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';

const run = promisify(execFile);

export interface AmqpVhost {
  readonly url: string;
  dispose(): Promise<void>;
}

/** A throwaway vhost (rabbitmqctl), so the fixed XRayIOT queue names never meet another run's. */
export async function createBenchVhost(host: string): Promise<AmqpVhost> {
  const vhost = `sealstream_bench_${randomBytes(6).toString('hex')}`;
  await run('rabbitmqctl', ['add_vhost', vhost], { timeout: 60_000 });
  await run('rabbitmqctl', ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { timeout: 60_000 });
  return {
    url: `amqp://guest:guest@${host}/${vhost}`,
    dispose: async () => {
      await run('rabbitmqctl', ['delete_vhost', vhost], { timeout: 60_000 }).catch(() => undefined);
    },
  };
}

function sign(secret: string, deviceId: string, body: string, timestamp: string, nonce: string): string {
  const payload = createHmac('sha256', secret).update(body).digest('hex');
  const base = `algorithm=sha256&deviceId=${deviceId}&nonce=${nonce}&payload=${payload}&timestamp=${timestamp}`;
  return createHmac('sha256', secret).update(base).digest('hex');
}

export interface XrayLoad {
  readonly secret: string;
  readonly devicePrefix: string;
  readonly devices: number;
  readonly total: number;
}

/**
 * Publishes `total` messages as XRayIOT's producer does (no properties but headers), honouring the
 * channel's backpressure. Each is signed as it is published, like the producer (its capturedAt is then
 * fresh: the hub refuses captures older than 300 s, and a backlog must not age them before they are sent).
 */
export async function publishXrayMessages(url: string, load: XrayLoad): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.assertExchange('iot.xray', 'topic', { durable: true });
    const start = Date.now() - 60_000;
    for (let i = 0; i < load.total; i += 1) {
      const deviceId = `${load.devicePrefix}${i % load.devices}`;
      const time = start + Math.floor(i / load.devices);
      const payload = JSON.stringify({ [deviceId]: { data: [[0, [51.3 + (i % 100) / 1e4, 12.3, i % 7]]], time } });
      const capturedAt = new Date().toISOString();
      const body = JSON.stringify({ deviceId, capturedAt, payload, schemaVersion: 'v1' });
      const nonce = randomBytes(16).toString('hex');
      const headers = {
        'x-correlation-id': randomUUID(),
        'x-timestamp': capturedAt,
        'x-service': 'producer',
        'x-schema-version': 'v1',
        'x-device-id': deviceId,
        'x-hmac-signature': sign(load.secret, deviceId, body, capturedAt, nonce),
        'x-timestamp-auth': capturedAt,
        'x-nonce': nonce,
        'x-algorithm': 'sha256',
      };
      if (!channel.publish('iot.xray', 'xray.raw.v1', Buffer.from(body), { headers })) {
        await new Promise((resolve) => channel.once('drain', resolve));
      }
    }
    await channel.close();
  } finally {
    await connection.close().catch(() => undefined);
  }
}
