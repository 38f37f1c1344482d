#!/usr/bin/env node
/**
 * The `sealstream` command: `serve` runs a hub (with `--demo`, plus built-in demo devices), `emit`
 * runs the device simulator or the seed-compatible legacy emitter. This is the app layer: the only
 * place that reads process.env and argv, prints, and exits.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeEmitSummary, emitExitCode, emitHelpText, parseEmitArgs, runEmit } from '@sealstream/emitter';
import { loadConfig } from '../config/load-config.js';
import { createLogger } from '../observability/logger.js';
import { DEMO_DEFAULTS } from './demo-defaults.js';
import { startDemoDevices } from './demo-devices.js';
import { descriptorBudget, startDescriptorWatch } from './descriptor-watch.js';
import { serveHelpText } from './help.js';
import { describeListenError } from './listen-errors.js';
import { startRoles } from './roles/start-roles.js';
import { startHub } from './start-hub.js';
import { startupBanner } from './startup-banner.js';
import { runBusCommand } from './bus-command.js';
import { runUsersCommand } from './users-command.js';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'emit':
      return emit(rest);
    case 'users':
      return runUsersCommand(rest, process.env, {
        readStdin,
        print: (line) => console.log(line),
        printError: (line) => console.error(line),
      });
    case 'bus':
      return runBusCommand(rest, process.env, {
        print: (line) => console.log(line),
        printError: (line) => console.error(line),
      });
    case 'version':
    case '--version':
    case '-v':
      console.log(`sealstream ${productVersion()}`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(serveHelpText());
      return 0;
    default:
      console.error(`unknown command "${command}"\n\n${serveHelpText()}`);
      return 2;
  }
}

async function serve(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(serveHelpText());
    return 0;
  }
  const loaded = loadConfig(argv, process.env, DEMO_DEFAULTS);
  if (!loaded.ok) {
    console.error(`sealstream serve: invalid configuration:\n  - ${loaded.errors.join('\n  - ')}`);
    return 2;
  }
  const { config } = loaded;
  const logger = createLogger({ level: config.logLevel });
  const dashboardDir =
    process.env.SEALSTREAM_DASHBOARD_DIR ?? fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));
  const hubOptions = { logger, dashboardDir, collectDefaultMetrics: true };
  // `all` is the single process; other roles are one part of a scaled-out hub (docs/scale-out.md).
  const hub = await (config.role === 'all' ? startHub(config, hubOptions) : startRoles(config, hubOptions)).catch(
    (error: unknown) => {
      const listenFailure = describeListenError(error, config);
      throw listenFailure === undefined ? error : new Error(listenFailure);
    },
  );
  const demo = config.demo && 'pipeline' in hub ? startDemoDevices(hub, logger) : undefined;
  const descriptors = startDescriptorWatch({ logger, budget: descriptorBudget(config) });
  // Printed last, to stdout and never to the log (the demo admin's password is a credential).
  console.log(startupBanner(config, { ports: hub.ports, demoAdmin: hub.demoAdmin }));

  let stoppingSince: number | null = null;
  const stop = async (signal: string): Promise<void> => {
    if (stoppingSince !== null) {
      // Ctrl-C under `npm start` arrives twice at once (from the terminal and forwarded by npm): only a
      // later signal means the operator does not want to wait for the orderly close.
      if (performance.now() - stoppingSince < 1000) return;
      logger.warn({ signal }, 'second signal: exiting now; devices resend what was not acknowledged');
      process.exit(1);
    }
    stoppingSince = performance.now();
    logger.info({ signal }, 'shutting down: stopping intake, committing what is queued');
    // A store that stopped answering (PGlite spinning after its disk filled) would hold close() for ever.
    // Exiting is safe: what was acknowledged is durable and the rest is resent by its devices.
    // The bound is --shutdown-timeout-ms (60 s by default): an orderly close commits what is queued,
    // folds this hub's journal rows for at most 10 s and closes the store.
    setTimeout(() => {
      logger.error(
        { deadlineMs: config.shutdownTimeoutMs },
        'shutdown did not finish in time (the store is not answering); exiting; devices resend what was not acknowledged',
      );
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    descriptors.stop();
    await demo?.stop();
    await hub.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  return new Promise<number>(() => undefined);
}

async function emit(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(emitHelpText());
    return 0;
  }
  const parsed = parseEmitArgs(argv, process.env);
  if (!parsed.ok) {
    console.error(`sealstream emit: ${parsed.error}\n\n${emitHelpText()}`);
    return 2;
  }
  const run = runEmit(parsed.command, { onProgress: (line) => console.log(line) });
  process.once('SIGINT', () => void run.stop());
  process.once('SIGTERM', () => void run.stop());
  const summary = await run.done;
  // In words for a person, then the JSON for scripts, as the last line (one write, so `2>&1` or a
  // merged pipe keeps that order). Refused readings (or a refused AUTH token) also make the exit code 1.
  console.log(`${describeEmitSummary(summary)}\n${JSON.stringify(summary)}`);
  return emitExitCode(summary);
}

/** The hub package's version (src/cli and dist/cli are both two folders below its package.json). */
function productVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return manifest.version ?? 'unknown';
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`sealstream: ${(error as Error).message}`);
    process.exit(1);
  },
);
