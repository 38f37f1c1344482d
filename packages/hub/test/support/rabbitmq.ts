/**
 * Test access to the local RabbitMQ: a throwaway vhost per test run (created with rabbitmqctl, guest
 * given all permissions on it, deleted after), so suites that need XRayIOT's fixed queue names never
 * collide with parallel runs. Suites skip with a visible reason when the broker or rabbitmqctl is
 * missing, except under CI (`CI=true`), where they fail instead.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';

const run = promisify(execFile);
const BROKER = process.env['SEALSTREAM_TEST_AMQP_HOST'] ?? '127.0.0.1:5672';

export type AmqpAvailability = { available: true } | { available: false; reason: string };

export async function amqpAvailability(): Promise<AmqpAvailability> {
  try {
    const connection = await amqp.connect(`amqp://guest:guest@${BROKER}`);
    await connection.close();
  } catch (error) {
    return { available: false, reason: `RabbitMQ test broker unreachable (${(error as Error).message})` };
  }
  try {
    await run('rabbitmqctl', ['list_vhosts'], { timeout: 30_000 });
  } catch (error) {
    return { available: false, reason: `rabbitmqctl unusable (${(error as Error).message.split('\n')[0]})` };
  }
  return { available: true };
}

export function failIfAmqpRequired(availability: AmqpAvailability): void {
  if (!availability.available && process.env['CI'] === 'true') {
    throw new Error(`${availability.reason}; CI=true requires it`);
  }
}

export function uniqueVhostName(): string {
  return `sealstream_test_${randomBytes(6).toString('hex')}`;
}

/** Creates `vhost` and lets guest do everything in it. */
export async function createVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['add_vhost', vhost], { timeout: 30_000 });
  await run('rabbitmqctl', ['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { timeout: 30_000 });
}

export async function deleteVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['delete_vhost', vhost], { timeout: 30_000 }).catch(() => undefined);
}

export function vhostUrl(vhost: string): string {
  return `amqp://guest:guest@${BROKER}/${encodeURIComponent(vhost)}`;
}

/** Closes this vhost's client connections only (a broker-side drop, as when the broker restarts). */
export async function dropVhostConnections(vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['list_connections', '--silent', 'pid', 'vhost'], { timeout: 30_000 });
  let closed = 0;
  for (const line of stdout.split('\n')) {
    const [pid, host] = line.trim().split('\t');
    if (pid === undefined || host !== vhost) continue;
    await run('rabbitmqctl', ['close_connection', pid, 'test: broker-side drop'], { timeout: 30_000 });
    closed += 1;
  }
  return closed;
}
