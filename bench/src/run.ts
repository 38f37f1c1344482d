/**
 * `node bench/dist/run.js [--json] [--scenario NAME[,NAME]] [--seconds N] ...`: measures the raw
 * PostgreSQL COPY reference, then runs each scenario against a real hub process on 127.0.0.1 and
 * prints a table (or, with --json, one JSON object per line).
 */
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { buildId } from './build-id.js';
import { postgresAvailable, postgresVersion } from './bench-store.js';
import { measureCopy, measureStagedInsert, type CopyMeasurement } from './copy-reference.js';
import { HUB_CLI, killRunningHubs } from './hub-process.js';
import { formatTable } from './report.js';
import {
  DEFAULT_EMIT_FRAMES_PER_MESSAGE,
  parseMqttVariant,
  runScenario,
  SCENARIOS,
  type MqttVariant,
  type ScenarioName,
  type ScenarioResult,
} from './scenarios.js';

const HELP = `usage: node bench/dist/run.js [options]
  --scenario LIST      comma-separated: copy-reference,${SCENARIOS.join(',')} (default: all)
  --seconds N          load seconds per scenario (default 15; the issue's sustained run is 60)
  --json               one JSON object per line instead of a table
  --database-url URL   PostgreSQL server (default $DATABASE_URL or postgres://postgres@127.0.0.1:5432/test)
  --devices N          devices in the native scenarios (default 100)
  --connections N      emitter connections (default 4)
  --batch N            readings per native frame (default 1000)
  --outbox N           per-connection outbox bound, readings (default 20000)
  --latency-devices N  devices the live subscriber follows (default 5)
  --latency-rate N     readings per second in latency-20k (default 20000; lower rates show the floor)
  --warmup-seconds N   load at that rate before the fixed-rate scenarios' timed phase, from devices of
                       its own (default 3; 0 = none); its latencies are reported as warmupP99Ms
  --live-tick-ms N     hub live tick (default: the hub's default)
  --copy-rows N        rows per COPY reference measurement (default 1000000)
  --cpu-prof DIR       run the hub under node --cpu-prof, profiles written to DIR
  --hub-arg FLAG       extra flag for the hub's serve command (repeatable, e.g. --hub-arg=--commit-concurrency=4)
  --hub-node-flag FLAG extra flag for the hub's node process (repeatable, e.g. --hub-node-flag=--max-semi-space-size=64)
  --probe WHERE        where the live subscriber runs: inline (the bench process, default) or process (its own)
  --legacy-workers LIST  hub --legacy-workers for postgres-legacy, comma-separated: the scenario runs once per
                       value in this run (an A/B, e.g. 0,1); default: the hub's default
  --mqtt-url URL       the broker of the mqtt-native scenario (or SEALSTREAM_MQTT_URL; default mqtt://127.0.0.1:1883)
  --redis-url URL      the Redis of the scaled scenarios (or SEALSTREAM_REDIS_URL; default redis://127.0.0.1:6379);
                       their RabbitMQ is a vhost of the bench's own on 127.0.0.1:5672
  --mqtt-variant TEXT  repeatable: mqtt-native runs once per variant in this run (an A/B). TEXT is a label, then
                       hub flags (--mqtt-receive-maximum=1) and emit-frames=N (the emitter's frames per MQTT
                       message, default ${DEFAULT_EMIT_FRAMES_PER_MESSAGE}), e.g. --mqtt-variant "one-in-hand --mqtt-receive-maximum=1"`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      json: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      seconds: { type: 'string', default: '15' },
      'database-url': { type: 'string' },
      devices: { type: 'string', default: '100' },
      connections: { type: 'string', default: '4' },
      batch: { type: 'string', default: '1000' },
      outbox: { type: 'string', default: '20000' },
      'latency-devices': { type: 'string', default: '5' },
      'latency-rate': { type: 'string', default: '20000' },
      'warmup-seconds': { type: 'string', default: '3' },
      'live-tick-ms': { type: 'string' },
      'copy-rows': { type: 'string', default: '1000000' },
      'cpu-prof': { type: 'string' },
      'hub-arg': { type: 'string', multiple: true, default: [] },
      'hub-node-flag': { type: 'string', multiple: true, default: [] },
      probe: { type: 'string', default: 'inline' },
      'legacy-workers': { type: 'string' },
      'mqtt-url': { type: 'string' },
      'redis-url': { type: 'string' },
      'mqtt-variant': { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const positive = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
    return value;
  };
  const nonNegative = (name: string, text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a whole number, 0 or more`);
    return value;
  };
  const probe = values.probe;
  if (probe !== 'process' && probe !== 'inline') throw new Error(`--probe must be process or inline\n\n${HELP}`);
  const all = ['copy-reference', ...SCENARIOS];
  const selected = values.scenario === undefined ? all : values.scenario.split(',').map((s) => s.trim());
  for (const name of selected) if (!all.includes(name)) throw new Error(`unknown scenario "${name}"\n\n${HELP}`);
  if (!existsSync(HUB_CLI)) throw new Error(`${HUB_CLI} is missing: run npm run build first`);

  const databaseUrl = values['database-url'] ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const pgUp = await postgresAvailable(databaseUrl);
  const log = (line: string): void => {
    if (!values.json) console.log(line);
  };
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    postgres: pgUp ? await postgresVersion(databaseUrl) : null,
    build: buildId(),
  };
  log(
    `machine: ${machine.cores} cores (${machine.cpu}), Node ${machine.node}, PostgreSQL ${machine.postgres ?? 'unavailable'}; build ${machine.build.id} (${machine.build.builtAt})`,
  );

  let copy: CopyMeasurement | undefined;
  const copyRows = positive('copy-rows', values['copy-rows']);
  if (pgUp) {
    log(`copy-reference: COPY of ${copyRows} rows, 1 and 2 streams, then staged INSERT...`);
    const one = await measureCopy(databaseUrl, copyRows, 1);
    const two = await measureCopy(databaseUrl, copyRows, 2);
    copy = two.rowsPerSec > one.rowsPerSec ? two : one;
    const staged = await measureStagedInsert(databaseUrl, copyRows, 2, 10_000);
    const copyLine = {
      scenario: 'copy-reference',
      store: 'postgres',
      oneStreamRowsPerSec: Math.round(one.rowsPerSec),
      twoStreamsRowsPerSec: Math.round(two.rowsPerSec),
      stagedInsertTwoSessionsRowsPerSec: Math.round(staged.rowsPerSec),
      readings: copy.rows,
      seconds: Math.round(copy.seconds * 100) / 100,
      readingsPerSec: Math.round(copy.rowsPerSec),
      streams: copy.streams,
      machine,
    };
    if (selected.includes('copy-reference')) {
      if (values.json) console.log(JSON.stringify(copyLine));
      else
        log(
          `  COPY 1 stream ${copyLine.oneStreamRowsPerSec} rows/s, 2 streams ${copyLine.twoStreamsRowsPerSec} rows/s; reference = ${copyLine.readingsPerSec} rows/s\n` +
            `  COPY into a temp stage + INSERT ... ON CONFLICT DO NOTHING into a partitioned table, 10K rows per ` +
            `transaction, 2 sessions: ${copyLine.stagedInsertTwoSessionsRowsPerSec} rows/s`,
        );
    }
  } else {
    log('copy-reference: skipped, PostgreSQL is not reachable');
  }

  const results: Array<ScenarioResult & { copyFraction: number | null }> = [];
  const legacyWorkers: Array<number | undefined> =
    values['legacy-workers'] === undefined
      ? [undefined]
      : values['legacy-workers'].split(',').map((text) => {
          const value = Number(text.trim());
          if (!Number.isInteger(value) || value < 0) throw new Error('--legacy-workers takes integers >= 0');
          return value;
        });
  const mqttVariants: Array<MqttVariant | undefined> =
    values['mqtt-variant'].length === 0 ? [undefined] : values['mqtt-variant'].map(parseMqttVariant);
  const runs = selected.flatMap((name) =>
    name === 'postgres-legacy'
      ? legacyWorkers.map((workers) => ({ name, workers, variant: undefined as MqttVariant | undefined }))
      : name === 'mqtt-native'
        ? mqttVariants.map((variant) => ({ name, workers: undefined as number | undefined, variant }))
        : [{ name, workers: undefined as number | undefined, variant: undefined as MqttVariant | undefined }],
  );
  for (const { name, workers, variant } of runs) {
    if (name === 'copy-reference') continue;
    const scenario = name as ScenarioName;
    if (scenario !== 'pglite-native' && !pgUp) {
      log(`${scenario}: skipped, PostgreSQL is not reachable at the database URL`);
      continue;
    }
    log(
      `${scenario}${workers === undefined ? '' : ` (--legacy-workers ${workers})`}${variant === undefined ? '' : ` (${variant.label})`}: running for ${values.seconds} s...`,
    );
    const result = await runScenario(scenario, {
      seconds: positive('seconds', values.seconds),
      databaseUrl,
      devices: positive('devices', values.devices),
      connections: positive('connections', values.connections),
      readingsPerFrame: positive('batch', values.batch),
      outboxReadings: positive('outbox', values.outbox),
      latencyDevices: positive('latency-devices', values['latency-devices']),
      latencyRate: positive('latency-rate', values['latency-rate']),
      warmupSeconds: nonNegative('warmup-seconds', values['warmup-seconds']),
      ...(values['live-tick-ms'] === undefined ? {} : { liveTickMs: positive('live-tick-ms', values['live-tick-ms']) }),
      ...(values['cpu-prof'] === undefined ? {} : { cpuProfDir: values['cpu-prof'] }),
      hubArgs: values['hub-arg'],
      hubNodeFlags: values['hub-node-flag'],
      probe,
      ...(workers === undefined ? {} : { legacyWorkers: workers }),
      ...(variant === undefined ? {} : { mqttVariant: variant }),
      mqttUrl: values['mqtt-url'] ?? process.env.SEALSTREAM_MQTT_URL ?? 'mqtt://127.0.0.1:1883',
      redisUrl: values['redis-url'] ?? process.env.SEALSTREAM_REDIS_URL ?? 'redis://127.0.0.1:6379',
      log,
    });
    // The scaled target is a share of the single-process rate measured in the same run.
    const single = results.find((earlier) => earlier.scenario === 'postgres-native');
    const withFraction = {
      ...result,
      copyFraction: copy === undefined ? null : Math.round((result.readingsPerSec / copy.rowsPerSec) * 1000) / 1000,
      singleProcessFraction:
        result.scenario !== 'scaled-native' || single === undefined
          ? null
          : Math.round((result.readingsPerSec / single.readingsPerSec) * 1000) / 1000,
      build: machine.build.id,
    };
    results.push(withFraction);
    if (values.json) console.log(JSON.stringify(withFraction));
  }
  if (!values.json && results.length > 0) log(`\n${formatTable(results)}`);
  return 0;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    // Interrupted: no hub may outlive the bench. Throwaway schemas (bench_*) may remain.
    killRunningHubs();
    process.exit(130);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${(error as Error).message}`);
    process.exit(1);
  },
);
