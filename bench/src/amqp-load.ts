/**
 * The amqp-xray load: XRayIOT producer messages (design §4.6: its exchange, headers and body, signed
 * with a string secret) published to RabbitMQ in a vhost of the bench's own, which the hub consumes.
 * Each message carries the seed's sample data with one point, so one message is one reading plus one
 * signal summary.
 *
 * One publishing thread tops out near 10–20K messages/s here (two HMACs, a UUID and the header table
 * per message), below the hub's target, so the load is split over several worker threads
 * (amqp-publish-worker.ts), each with its own connection.
 */
import { execFile } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
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
 * Declares XRayIOT's main queue as the hub does (design §4.6: durable, dead-lettering to iot.dlx with
 * key xray.raw.fail, bound to iot.xray by xray.raw.v1), so a backlog published before the hub starts is
 * kept; the hub's own declaration then matches it.
 */
export async function declareXrayQueue(url: string): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.assertExchange('iot.xray', 'topic', { durable: true });
    await channel.assertExchange('iot.dlx', 'topic', { durable: true });
    await channel.assertQueue('xray.raw.q', {
      durable: true,
      arguments: { 'x-dead-letter-exchange': 'iot.dlx', 'x-dead-letter-routing-key': 'xray.raw.fail' },
    });
    await channel.bindQueue('xray.raw.q', 'iot.xray', 'xray.raw.v1');
    await channel.close();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Publishes `total` messages over `publishers` worker threads (each its own connection and share). */
export async function publishXrayMessages(url: string, load: XrayLoad, publishers = 1): Promise<void> {
  // One time base for every thread, so the readings' times are those of a single publisher.
  const start = Date.now() - 60_000;
  if (publishers <= 1) return publishXrayRange(url, load, 0, load.total, start);
  const share = Math.ceil(load.total / publishers);
  const workers = Array.from({ length: publishers }, (_, n) => {
    const from = n * share;
    const to = Math.min(load.total, from + share);
    return new Promise<void>((resolve, reject) => {
      const worker = new Worker(new URL('./amqp-publish-worker.js', import.meta.url), {
        workerData: { url, load, from, to, start },
      });
      worker.once('error', reject);
      worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`publisher ${n} exited ${code}`))));
    });
  });
  await Promise.all(workers);
}

/**
 * Publishes messages [from, to) of the load as XRayIOT's producer does (no properties but headers),
 * honouring the channel's backpressure. Each is signed as it is published, like the producer (its
 * capturedAt is then fresh: the hub refuses captures older than 300 s, and a backlog must not age them
 * before they are sent).
 */
export async function publishXrayRange(
  url: string,
  load: XrayLoad,
  from: number,
  to: number,
  start: number,
): Promise<void> {
  const connection = await amqp.connect(url);
  try {
    const channel = await connection.createChannel();
    await channel.assertExchange('iot.xray', 'topic', { durable: true });
    for (let i = from; i < to; i += 1) {
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
