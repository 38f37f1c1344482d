/**
 * Test access to the local RabbitMQ: whether it answers, and a throwaway virtual host per suite (made
 * and removed with rabbitmqctl) so suites running at the same time never share a queue. Suites skip
 * with a visible reason when the broker is missing, except under CI, where they must fail instead.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import amqp from 'amqplib';

const run = promisify(execFile);
const BROKER = process.env['SEALSTREAM_TEST_AMQP_HOST'] ?? '127.0.0.1:5672';

export type RabbitAvailability = { available: true } | { available: false; reason: string };

export function rabbitRequired(): boolean {
  return process.env['CI'] === 'true';
}

export function amqpUrl(vhost = '/'): string {
  return `amqp://guest:guest@${BROKER}/${encodeURIComponent(vhost)}`;
}

export async function rabbitAvailability(): Promise<RabbitAvailability> {
  try {
    const connection = await amqp.connect(amqpUrl(), { timeout: 3_000 });
    await connection.close();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return {
      available: false,
      reason: `RabbitMQ unreachable at ${BROKER} (${typeof code === 'string' ? code : 'no answer'})`,
    };
  }
  try {
    await run('rabbitmqctl', ['-q', 'status'], { timeout: 30_000 });
  } catch {
    return { available: false, reason: 'rabbitmqctl is not usable here (needed for throwaway vhosts)' };
  }
  return { available: true };
}

export function failIfRabbitRequired(availability: RabbitAvailability): void {
  if (!availability.available && rabbitRequired()) {
    throw new Error(`${availability.reason}; CI=true requires it`);
  }
}

export function uniqueVhostName(prefix = 'ss-test'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Creates `vhost` (a fresh name by default) that guest may use fully; remove it with `deleteVhost`. */
export async function createVhost(vhost = uniqueVhostName()): Promise<string> {
  await run('rabbitmqctl', ['-q', 'add_vhost', vhost], { timeout: 30_000 });
  await run('rabbitmqctl', ['-q', 'set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*'], { timeout: 30_000 });
  return vhost;
}

export async function deleteVhost(vhost: string): Promise<void> {
  await run('rabbitmqctl', ['-q', 'delete_vhost', vhost], { timeout: 60_000 }).catch(() => undefined);
}

/** Closes every client connection to `vhost` (a cut network as the broker sees it). */
export async function closeVhostConnections(vhost: string): Promise<number> {
  const { stdout } = await run('rabbitmqctl', ['-q', 'list_connections', 'pid', 'vhost', '--no-table-headers'], {
    timeout: 30_000,
  });
  const pids = stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([pid, host]) => pid !== undefined && pid !== '' && host === vhost)
    .map(([pid]) => pid as string);
  // In parallel: each rabbitmqctl call starts an Erlang node, seconds apiece on a busy machine.
  await Promise.all(
    pids.map((pid) =>
      run('rabbitmqctl', ['-q', 'close_connection', pid, 'test cut'], { timeout: 30_000 }).catch(() => undefined),
    ),
  );
  return pids.length;
}
