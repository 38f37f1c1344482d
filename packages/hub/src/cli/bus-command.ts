/**
 * `sealstream bus redrive-dead`: moves the batches writers gave up on (`<prefix>.dead.q`) back onto
 * their partitions once the cause is fixed (bus/bus-dead-redrive.ts). Reads the bus settings as `serve`
 * does (flags or env) and prints what it moved; the broker's address is shown without its password.
 */
import { parseArgs } from 'node:util';
import { redriveDeadBatches } from '../bus/bus-dead-redrive.js';
import { describeBusFailure } from '../bus/bus-start-errors.js';
import type { Env } from '../config/load-config.js';

export interface BusCommandIo {
  print(line: string): void;
  printError(line: string): void;
}

const PREFIX = /^[A-Za-z0-9._-]{1,64}$/;
const DEFAULT_LIMIT = 100_000;

export function busHelpText(): string {
  return [
    'Usage: sealstream bus redrive-dead [--amqp-url URL] [--bus-prefix P] [--bus-partitions N] [--limit N]',
    '',
    '  Moves the batches writers gave up on (<prefix>.dead.q) back onto their partition queues, for the',
    '  writers to commit again. Run it once the store is back; each batch gets its full retries again.',
    '  --amqp-url / SEALSTREAM_AMQP_URL            the cluster bus (required)',
    '  --bus-prefix / SEALSTREAM_BUS_PREFIX        default sealstream',
    "  --bus-partitions / SEALSTREAM_BUS_PARTITIONS  the cluster's partition count, default 8 (checked)",
    `  --limit N                                   at most N batches (default ${DEFAULT_LIMIT})`,
  ].join('\n');
}

export async function runBusCommand(argv: readonly string[], env: Env, io: BusCommandIo): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === 'help' || action === '--help' || action === '-h' || rest.includes('--help')) {
    io.print(busHelpText());
    return 0;
  }
  if (action !== 'redrive-dead') {
    io.printError(`sealstream bus: unknown action "${action}"\n\n${busHelpText()}`);
    return 2;
  }
  let values;
  try {
    values = parseArgs({
      args: [...rest],
      options: {
        'amqp-url': { type: 'string' },
        'bus-prefix': { type: 'string' },
        'bus-partitions': { type: 'string' },
        limit: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    io.printError(`sealstream bus redrive-dead: ${(error as Error).message}`);
    return 2;
  }
  const url = values['amqp-url'] ?? nonEmpty(env['SEALSTREAM_AMQP_URL']);
  const prefix = values['bus-prefix'] ?? nonEmpty(env['SEALSTREAM_BUS_PREFIX']) ?? 'sealstream';
  const partitions = Number(values['bus-partitions'] ?? nonEmpty(env['SEALSTREAM_BUS_PARTITIONS']) ?? 8);
  const limit = Number(values.limit ?? DEFAULT_LIMIT);
  const errors: string[] = [];
  if (url === undefined || !/^amqps?:\/\/\S+$/.test(url)) errors.push('--amqp-url must be an amqp:// or amqps:// URL');
  if (!PREFIX.test(prefix)) errors.push('--bus-prefix must be 1..64 characters of [A-Za-z0-9._-]');
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024) {
    errors.push('--bus-partitions must be an integer from 1 to 1024');
  }
  if (!Number.isInteger(limit) || limit < 1) errors.push('--limit must be a positive integer');
  if (errors.length > 0 || url === undefined) {
    io.printError(`sealstream bus redrive-dead:\n  - ${errors.join('\n  - ')}`);
    return 2;
  }
  try {
    const outcome = await redriveDeadBatches({ url, prefix, partitions, limit });
    io.print(
      `moved ${outcome.moved} of ${outcome.found} batches from ${prefix}.dead.q back to their partitions` +
        (outcome.left > 0 ? `; ${outcome.left} left there (not batches this version can route)` : ''),
    );
    return 0;
  } catch (error) {
    io.printError(`sealstream bus redrive-dead: ${describeBusFailure(error, url)}`);
    return 1;
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
