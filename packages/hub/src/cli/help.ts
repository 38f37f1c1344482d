/** Help text for `sealstream` and `sealstream serve`, generated from the settings table so it stays complete. */
import { SETTINGS } from '../config/load-config.js';

export function serveHelpText(): string {
  const rows = Object.entries(SETTINGS).map(([flag, env]) => `  --${flag.padEnd(28)} ${env}`);
  return [
    'Usage: sealstream <command> [options]',
    '',
    'Commands:',
    '  serve [--demo] [options]   run the hub (PGlite in ./data unless DATABASE_URL is set)',
    '  emit --mode native|legacy  run a device simulator or the seed-compatible legacy emitter (emit --help)',
    '  users add --username U --role admin|operator|viewer [--password-stdin]   create an API account (users --help)',
    '  bus redrive-dead [--limit N]   move batches writers gave up on back to their partitions (bus --help)',
    '  --version                  print the version',
    '',
    'serve options (flag, then the environment variable it overrides):',
    '  --demo                         built-in demo devices and demo keys (never for production)',
    ...rows,
    '',
    'A port set to "off" disables that listener. See docs/configuration.md for defaults and meanings.',
  ].join('\n');
}
