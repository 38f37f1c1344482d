/**
 * One benchmark scenario end to end: a fresh store, a hub process, a live subscriber, the load, then
 * SIGTERM to the hub and an audit of what the database holds. Returns the figures a report prints.
 */
import { randomBytes } from 'node:crypto';
import { sealLegacyLines, sendLegacyLines } from './legacy-load.js';
import {
  createPgliteStore,
  createPostgresStore,
  postgresCpuSeconds,
  type BenchStore,
  type StoreKind,
} from './bench-store.js';
import { machineCpuSeconds, startHubProcess, type HubProcess, type HubStartOptions } from './hub-process.js';
import { sampleActivity, type ActivityTally } from './pg-activity.js';
import { commitFiguresBetween, readHubCounters, sampleGauge, type CommitFigures } from './hub-metrics.js';
import { startLatencyProbe, type ProbePlacement } from './latency-probe.js';
import { startCommitProbe, type CommitProbe, type CommitProbeResult } from './commit-probe.js';
import { runNativeLoad } from './native-load.js';
import { createBenchVhost, declareXrayQueue, publishXrayMessages, type AmqpVhost } from './amqp-load.js';
import { createReader, startReadLoad, type ReadLoadFigures } from './read-load.js';

export const SCENARIOS = [
  'pglite-native',
  'postgres-native',
  'postgres-legacy',
  'latency-20k',
  'latency-20k-reads',
  'amqp-xray',
  'amqp-xray-backlog',
  'mqtt-native',
  'scaled-native',
  'scaled-latency-20k',
] as const;
/** Concurrent API read loops of `latency-20k-reads` (series and raw pages, see read-load.ts). */
const READ_WORKERS = 8;
import { brokerCpuSeconds, findBrokerPid } from './broker-cpu.js';
import { startScaledHubs, type ScaledHub } from './scaled-hubs.js';
export type ScenarioName = (typeof SCENARIOS)[number];

/** Frames the bench's emitter puts in one MQTT message at most (frames written in one turn share one). */
export const DEFAULT_EMIT_FRAMES_PER_MESSAGE = 16;

export interface MqttVariant {
  readonly label: string;
  readonly hubArgs: readonly string[];
  readonly emitFramesPerMessage: number;
}

/** `label [--hub-flag[=value] ...] [emit-frames=N]` (see run.ts --mqtt-variant). */
export function parseMqttVariant(text: string): MqttVariant {
  const [label = '', ...words] = text.trim().split(/\s+/);
  if (label === '' || label.startsWith('--')) throw new Error(`--mqtt-variant "${text}" must start with a label`);
  const hubArgs: string[] = [];
  let emitFramesPerMessage = DEFAULT_EMIT_FRAMES_PER_MESSAGE;
  for (const word of words) {
    if (word.startsWith('--')) hubArgs.push(word);
    else if (word.startsWith('emit-frames=')) {
      emitFramesPerMessage = Number(word.slice('emit-frames='.length));
      if (!Number.isInteger(emitFramesPerMessage) || emitFramesPerMessage < 1) {
        throw new Error(`--mqtt-variant "${text}": emit-frames takes a positive integer`);
      }
    } else throw new Error(`--mqtt-variant "${text}": "${word}" is neither a hub flag nor emit-frames=N`);
  }
  return { label, hubArgs, emitFramesPerMessage };
}

export interface ScenarioSettings {
  readonly seconds: number;
  readonly databaseUrl: string;
  readonly devices: number;
  readonly connections: number;
  readonly readingsPerFrame: number;
  readonly outboxReadings: number;
  readonly latencyDevices: number;
  /** Readings per second of the latency scenario (the figure is 20K). */
  readonly latencyRate: number;
  /**
   * Seconds of the fixed-rate scenarios' load before the timed phase, from devices of their own: a hub
   * measured from its first reading shows its start (JIT, first connections and plans), not its steady
   * state. The warm-up's latencies are reported apart (`warmupP99Ms`). 0 = none.
   */
  readonly warmupSeconds: number;
  /** Hub --live-tick-ms; undefined keeps the hub's default. */
  readonly liveTickMs?: number;
  /** Directory for the hub's --cpu-prof output; undefined = no profile. */
  readonly cpuProfDir?: string;
  /** Extra flags passed to `serve` as they are. */
  readonly hubArgs: readonly string[];
  /** Extra flags for the hub's node process (e.g. --max-semi-space-size=64). */
  readonly hubNodeFlags: readonly string[];
  /** Where the live subscriber runs: the bench process (default) or its own. */
  readonly probe: ProbePlacement;
  /** Hub --legacy-workers for postgres-legacy; undefined keeps the hub's default. */
  readonly legacyWorkers?: number;
  /** The broker of the mqtt-native scenario. */
  readonly mqttUrl: string;
  /** The Redis of the scaled scenarios. */
  readonly redisUrl: string;
  /** mqtt-native: a variant of an A/B (extra hub flags, the emitter's frames per message). */
  readonly mqttVariant?: MqttVariant;
  readonly log: (line: string) => void;
}

export interface ScenarioResult {
  readonly scenario: ScenarioName;
  readonly store: StoreKind;
  readonly readings: number;
  readonly seconds: number;
  readonly readingsPerSec: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  /** p99 of the warm-up's latencies (fixed-rate scenarios; null without a warm-up): the hub's start. */
  readonly warmupP99Ms: number | null;
  /**
   * The timed phase's latencies split at the hub's commit (`committedAt` in each live reading):
   * creation to commit (emitter, network, hub ingest, commit) and commit to arrival (live fan-out,
   * subscriber). Percentiles of each part, so they need not add up to the whole's. Null without samples.
   */
  readonly latencyParts: {
    readonly toCommitP50Ms: number | null;
    readonly toCommitP99Ms: number | null;
    readonly afterCommitP50Ms: number | null;
    readonly afterCommitP99Ms: number | null;
  } | null;
  readonly latencySamples: number;
  readonly latencyDevices: number;
  readonly liveDropped: number;
  readonly sent: number;
  readonly acked: number | null;
  readonly lost: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly resent: number | null;
  readonly targetRate: number | null;
  readonly hubCpuPct: number | null;
  /** The hub's main thread alone (the event loop; PGlite in a worker and GC helpers excluded). */
  readonly hubMainThreadCpuPct: number | null;
  /** Every PostgreSQL process on the machine (other sessions' included). */
  readonly postgresCpuPct: number | null;
  /** Only the hub's own PostgreSQL backends. */
  readonly hubBackendsCpuPct: number | null;
  readonly benchCpuPct: number;
  readonly hubExitCode: number | null;
  readonly hub: CommitFigures;
  /**
   * The scaled scenarios' other roles: the gateway's commit figures are its round trips through the bus
   * (publish, the writer's wait and commit, the notice back), so beside the writer's they show what the
   * bus adds; the api node's event-loop delay is what its live fan-out waits for. Null for one process.
   */
  readonly roles: { readonly gateway: CommitFigures; readonly api: CommitFigures } | null;
  /** CPU microseconds spent per committed reading: a figure that other load on the machine skews far less
   * than rates do. postgres = the hub's own backends only. */
  readonly cpuMicrosPerReading: {
    readonly hub: number | null;
    readonly postgres: number | null;
    readonly bench: number;
    /** The broker's CPU per reading (mqtt-native, amqp-xray*, scaled scenarios; others' traffic included). */
    readonly broker: number | null;
    /** Scaled scenarios: each role's process per reading (the capacity model's inputs). */
    readonly roles: Readonly<Record<'gateway' | 'writer' | 'api', number | null>> | null;
  };
  /** CPU used by everything else on the machine meanwhile (other tests, builds): noise to report. */
  readonly otherCpuPct: number | null;
  /** The local broker's CPU over the timed phase (Mosquitto for mqtt-native, RabbitMQ for amqp-xray* and
   * the scaled scenarios; other sessions' traffic included). */
  readonly brokerCpuPct: number | null;
  /** mqtt-native: the variant's label (an A/B in one run); null otherwise or without variants. */
  readonly mqttVariant: string | null;
  /** mqtt-native: the hub's messages in hand (taken, PUBACK withheld), sampled every 200 ms. */
  readonly mqttInHand: { readonly mean: number | null; readonly max: number | null } | null;
  /** WAL the server wrote per committed reading (every session's WAL: other load inflates it). */
  readonly walBytesPerReading: number | null;
  readonly postgresActivity: ActivityTally | null;
  /** latency-20k-reads: the answers of the read load that ran beside ingest. */
  readonly readLoad?: ReadLoadFigures | null;
  /** --legacy-workers the hub ran with (null: its default). */
  readonly legacyWorkers: number | null;
  /** latency-20k on PostgreSQL: a one-row commit probe on its own connection during the load. */
  readonly storeCommit: CommitProbeResult | null;
  /** The target: the hub's p99 within the store's own commit p99 + 10 ms, measured in the same run. */
  readonly p99WithinStoreP99Plus10: boolean | null;
  /** The hub's pauses during the timed phase: event-loop delay (p99, max) and GC. */
  readonly hubPauses: {
    readonly eventLoopDelayP99Ms: number | null;
    readonly eventLoopDelayMaxMs: number | null;
    readonly gcPauseMs: number | null;
    readonly gcPauses: number | null;
  };
  readonly note: string;
}

const KEY_ID = 'bench';
const DEVICE_PREFIX = 'bench-';
/** Prefix of the warm-up's devices (`warmup-bench-0`, ...): outside the audit's `bench-%`. */
const WARMUP_PREFIX = 'warmup-';
const LEGACY_DEVICE = 'bench-legacy';
const LEGACY_ENCRYPTION_KEY = 'bench-legacy-encryption-key';
const LEGACY_AUTH_TOKEN = 'bench-legacy-auth-token';
/** Pre-sealed legacy tokens per second of the requested run: enough to keep a 100K/s hub busy. */
const LEGACY_TOKENS_PER_SECOND = 100_000;
const MAX_LEGACY_TOKENS = 3_000_000;
/** XRayIOT messages per second of the requested run (published as fast as the broker takes them). */
const XRAY_MESSAGES_PER_SECOND = 25_000;
/**
 * Publishing threads of the XRayIOT load: one in amqp-xray (the method of the figures so far; alone it
 * published 8–10K messages/s on a loaded 2-core machine, with no consumer), two to fill the backlog.
 */
const XRAY_PUBLISHERS = 1;
const XRAY_BACKLOG_PUBLISHERS = 2;
const MAX_XRAY_MESSAGES = 2_000_000;
const XRAY_SECRET = 'bench-xray-hmac-secret-0123456789';
const AMQP_HOST = process.env['SEALSTREAM_BENCH_AMQP_HOST'] ?? '127.0.0.1:5672';

export async function runScenario(name: ScenarioName, settings: ScenarioSettings): Promise<ScenarioResult> {
  const storeKind: StoreKind = name === 'pglite-native' ? 'pglite' : 'postgres';
  const legacy = name === 'postgres-legacy';
  const xray = name === 'amqp-xray' || name === 'amqp-xray-backlog';
  // amqp-xray-backlog: every message is in the queue before the hub starts, so the rate is the hub's
  // (and the broker's delivery), not the publisher's.
  const backlog = name === 'amqp-xray-backlog';
  // Writer, gateway and api node as separate processes over RabbitMQ and Redis (scaled-hubs.ts).
  const scaled = name === 'scaled-native' || name === 'scaled-latency-20k';
  const vhost: AmqpVhost | null = xray || scaled ? await createBenchVhost(AMQP_HOST) : null;
  const xrayTotal = Math.min(settings.seconds * XRAY_MESSAGES_PER_SECOND, MAX_XRAY_MESSAGES);
  const xrayLoad = {
    secret: XRAY_SECRET,
    devicePrefix: DEVICE_PREFIX,
    devices: settings.devices,
    total: xrayTotal,
  };
  if (backlog && vhost !== null) {
    await declareXrayQueue(vhost.url);
    const publishedAt = Date.now();
    await publishXrayMessages(vhost.url, xrayLoad, XRAY_BACKLOG_PUBLISHERS);
    settings.log(`  backlog: ${xrayTotal} messages published in ${Date.now() - publishedAt} ms`);
  }
  // latency-20k with a fixed API read load beside it (read-load.ts).
  const reads = name === 'latency-20k-reads';
  const viaMqtt = name === 'mqtt-native';
  // Our own topics and group on a shared broker: nothing of another run reaches this hub.
  const mqttScope = `bench${process.pid}x${Date.now().toString(36)}`;
  const brokerPid = viaMqtt ? findBrokerPid('mosquitto') : xray || scaled ? findBrokerPid('beam.smp') : null;
  const secret = randomBytes(32);
  // The live channel requires a token unless the hub runs in demo mode; the subscriber presents it.
  const liveToken = randomBytes(16).toString('hex');
  const store: BenchStore =
    storeKind === 'pglite' ? await createPgliteStore() : await createPostgresStore(settings.databaseUrl, name);
  try {
    const legacyLines = legacy ? prepareLegacy(settings) : [];
    const applicationName = `sealstream-bench-${process.pid}-${name}`;
    const settleNote = await store.settle();
    if (settleNote !== null) settings.log(`  ${settleNote}`);
    const readerPassword = reads ? await createReader(store.hubArgs) : undefined;
    const startHubs = (
      options: HubStartOptions,
    ): Promise<HubProcess & Partial<Pick<ScaledHub, 'metricsPort' | 'roleCpuSeconds' | 'rolePorts'>>> =>
      scaled && vhost !== null
        ? startScaledHubs({
            ...options,
            storeArgs: store.hubArgs,
            amqpUrl: vhost.url,
            redisUrl: settings.redisUrl,
            scope: mqttScope,
          })
        : startHubProcess({ ...options, args: [...store.hubArgs, ...options.args] });
    const hub = await startHubs({
      // Through the environment, not flags: a hub build that does not know a variable ignores it.
      env: {
        PGAPPNAME: applicationName,
        SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
        SEALSTREAM_LIVE_TOKEN: liveToken,
      },
      nodeFlags: [
        ...settings.hubNodeFlags,
        ...(settings.cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', settings.cpuProfDir]),
      ],
      args: [
        '--tcp-port',
        '0',
        '--device-keys',
        xray ? `${KEY_ID}:utf8=${XRAY_SECRET}` : `${KEY_ID}:${secret.toString('hex')}`,
        ...(xray && vhost !== null ? ['--amqp-url', vhost.url] : []),
        ...(legacy
          ? [
              '--legacy-port',
              '0',
              '--encryption-key',
              LEGACY_ENCRYPTION_KEY,
              '--auth-token',
              LEGACY_AUTH_TOKEN,
              '--legacy-device',
              LEGACY_DEVICE,
            ]
          : ['--legacy-port', 'off']),
        ...(settings.liveTickMs === undefined ? [] : ['--live-tick-ms', String(settings.liveTickMs)]),
        // The read load is bounded by its workers, not by the per-account API rate limit.
        ...(reads ? ['--api-rate-limit', '1000000'] : []),
        ...(legacy && settings.legacyWorkers !== undefined ? ['--legacy-workers', String(settings.legacyWorkers)] : []),
        ...(viaMqtt
          ? [
              '--mqtt-url',
              settings.mqttUrl,
              '--mqtt-topic-prefix',
              `${mqttScope}/v1`,
              '--mqtt-group',
              mqttScope,
              '--mqtt-client-id',
              mqttScope,
              ...(settings.mqttVariant?.hubArgs ?? []),
            ]
          : []),
        ...settings.hubArgs,
      ],
    });
    const hubStartedAt = Date.now();
    let hubExitCode: number | null = null;
    let closeProbe = (): void => undefined;
    try {
      // Sampled devices: the first few, each of which stays far below the live cap of 500 per tick.
      const sampled =
        legacy || xray
          ? []
          : Array.from(
              { length: Math.min(settings.latencyDevices, settings.devices) },
              (_, i) => `${DEVICE_PREFIX}${i}`,
            );
      const fixed = name === 'latency-20k' || name === 'scaled-latency-20k' || reads;
      const warmup = fixed && settings.warmupSeconds > 0;
      // The warm-up's devices are followed too, so the live path to a subscriber is warm as well.
      const followed = warmup ? [...sampled, ...sampled.map((device) => `${WARMUP_PREFIX}${device}`)] : sampled;
      const probe = await startLatencyProbe(hub.ports.http, followed, liveToken, settings.probe);
      closeProbe = () => probe.close();
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (warmup) {
        if (hub.ports.tcp === null) throw new Error('the hub did not open its native port');
        // Its devices are not `bench-*`, so the audit of the timed phase leaves them out.
        await runNativeLoad({
          port: hub.ports.tcp,
          keyId: KEY_ID,
          secret,
          devicePrefix: `${WARMUP_PREFIX}${DEVICE_PREFIX}`,
          devices: settings.devices,
          connections: settings.connections,
          readingsPerFrame: Math.min(500, settings.readingsPerFrame),
          seconds: settings.warmupSeconds,
          outboxReadings: settings.outboxReadings,
          rate: settings.latencyRate,
        });
      }
      probe.startTimedPhase();
      const activity =
        store.kind === 'postgres' ? await sampleActivity(settings.databaseUrl, applicationName) : undefined;
      // Also resets the hub's event-loop delay histogram, so the figures read at the end are this phase's.
      // Commit figures live where commits happen: the writer's /metrics in the scaled scenarios.
      const metricsPort = hub.metricsPort ?? hub.ports.http;
      const hubAtStart = await readHubCounters(metricsPort);
      const rolePorts = hub.rolePorts;
      const rolesAtStart =
        rolePorts === undefined
          ? undefined
          : { gateway: await readHubCounters(rolePorts.gateway), api: await readHubCounters(rolePorts.api) };
      let commitProbe: CommitProbe | undefined;
      if ((name === 'latency-20k' || name === 'scaled-latency-20k') && store.kind === 'postgres') {
        commitProbe = await startCommitProbe(settings.databaseUrl);
      }
      const cpu0 = {
        hub: hub.cpuSeconds(),
        hubMain: hub.mainThreadCpuSeconds(),
        pg: await postgresCpuSeconds(),
        bench: process.cpuUsage(),
        probe: probe.cpuSeconds(),
        machine: machineCpuSeconds(),
        broker: brokerCpuSeconds(brokerPid),
        roles: hub.roleCpuSeconds?.() ?? null,
      };

      const readLoad =
        readerPassword === undefined
          ? undefined
          : await startReadLoad({
              httpPort: hub.ports.http,
              password: readerPassword,
              devices: Array.from(
                { length: Math.min(READ_WORKERS, settings.devices) },
                (_, i) => `${DEVICE_PREFIX}${i}`,
              ),
              workers: READ_WORKERS,
            });
      let readFigures: ReadLoadFigures | null = null;
      let mqttInHand: ScenarioResult['mqttInHand'] = null;
      let sent: number;
      let acked: number | null = null;
      let rejected = 0;
      let resent: number | null = null;
      let seconds: number;
      let note = '';
      if (xray && vhost !== null) {
        sent = xrayTotal;
        let startedAt = Date.now();
        if (backlog) {
          startedAt = hubStartedAt;
        } else {
          await publishXrayMessages(vhost.url, xrayLoad, XRAY_PUBLISHERS);
        }
        const settled = await waitForSettled(() => probe.latestStats(), sent, 30_000);
        seconds = (settled.at - startedAt) / 1000;
        rejected = settled.invalid;
        note = backlog
          ? 'XRayIOT messages (one sample point each: one reading + one signal summary) all queued in RabbitMQ before the hub started; timed from the hub printing its ports until it reported every message committed (CPU figures miss the first ~0.5 s); latency not measured'
          : `XRayIOT messages (one sample point each: one reading + one signal summary) signed as published to RabbitMQ by ${XRAY_PUBLISHERS} threads; timed from the first publish until the hub reported every message committed; latency not measured`;
      } else if (legacy) {
        if (hub.ports.legacy === null) throw new Error('the hub did not open its legacy port');
        sent = legacyTotal(settings);
        const startedAt = Date.now();
        await sendLegacyLines(hub.ports.legacy, LEGACY_AUTH_TOKEN, legacyLines, 2);
        const settled = await waitForSettled(() => probe.latestStats(), sent, 30_000);
        seconds = (settled.at - startedAt) / 1000;
        rejected = settled.invalid;
        note =
          'pre-sealed tokens, no acks: timed until the hub reported every message committed; latency not measured (legacy messages carry no creation time)';
      } else {
        if (hub.ports.tcp === null) throw new Error('the hub did not open its native port');
        const inHandSampler = viaMqtt ? sampleGauge(hub.ports.http, 'sealstream_mqtt_messages_in_hand', 200) : null;
        const load = await runNativeLoad({
          port: hub.ports.tcp,
          ...(viaMqtt
            ? {
                transport: {
                  kind: 'mqtt' as const,
                  url: settings.mqttUrl,
                  topicPrefix: `${mqttScope}/v1`,
                  framesPerMessage: settings.mqttVariant?.emitFramesPerMessage ?? DEFAULT_EMIT_FRAMES_PER_MESSAGE,
                },
              }
            : {}),
          keyId: KEY_ID,
          secret,
          devicePrefix: DEVICE_PREFIX,
          devices: settings.devices,
          connections: settings.connections,
          readingsPerFrame: fixed ? Math.min(500, settings.readingsPerFrame) : settings.readingsPerFrame,
          seconds: settings.seconds,
          outboxReadings: settings.outboxReadings,
          ...(fixed ? { rate: settings.latencyRate } : {}),
        });
        const inHand = inHandSampler?.stop();
        mqttInHand = inHand === undefined ? null : { mean: inHand.mean, max: inHand.max };
        sent = load.sent;
        acked = load.acked;
        rejected = load.rejected;
        resent = load.resent;
        seconds = load.seconds;
        if (load.refusals > 0 || load.reconnects > 0) {
          const detail = Object.entries(load.events)
            .map(([what, count]) => `${what} x${count}`)
            .join(', ');
          note = `${load.refusals} refusals, ${load.reconnects} reconnects (${detail}); resent ${load.resent}`;
        }
      }
      if (readLoad !== undefined) {
        readFigures = await readLoad.stop();
        const { ok, busy, failed, bytes, workers } = readFigures;
        const load = `read load: ${workers} loops, ${ok} answered, ${busy} refused 503, ${failed} failed, ${Math.round(bytes / 1e6)} MB`;
        note = [note, load].filter((part) => part !== '').join('; ');
      }
      // One more live tick so the last committed readings reach the subscriber.
      await new Promise((resolve) => setTimeout(resolve, 300));
      const cpu1 = {
        hub: hub.cpuSeconds(),
        hubMain: hub.mainThreadCpuSeconds(),
        pg: await postgresCpuSeconds(),
        bench: process.cpuUsage(cpu0.bench),
        probe: probe.cpuSeconds(),
        machine: machineCpuSeconds(),
        broker: brokerCpuSeconds(brokerPid),
        roles: hub.roleCpuSeconds?.() ?? null,
      };
      // The emitter and the subscriber together: the bench's whole share of the machine.
      const benchSeconds = (cpu1.bench.user + cpu1.bench.system) / 1e6 + (cpu1.probe - cpu0.probe);
      const postgresActivity = (await activity?.stop()) ?? null;
      const commitFigures = commitFiguresBetween(await readHubCounters(metricsPort), hubAtStart);
      const roleFigures =
        rolePorts === undefined
          ? null
          : {
              gateway: commitFiguresBetween(await readHubCounters(rolePorts.gateway), rolesAtStart?.gateway),
              api: commitFiguresBetween(await readHubCounters(rolePorts.api), rolesAtStart?.api),
            };
      const storeCommit = (await commitProbe?.finish()) ?? null;
      const measured = await probe.finish();
      hubExitCode = await hub.stop();
      const audit = await store.audit(legacy ? LEGACY_DEVICE : DEVICE_PREFIX, xray ? 'device-ts-seq' : 'device-seq');
      const otherCpu = (): number | null => {
        if (cpu0.machine === null || cpu1.machine === null || cpu0.hub === null || cpu1.hub === null) return null;
        const busy = cpu1.machine.busy - cpu0.machine.busy;
        // PGlite runs inside the hub process, so only the server store has backends to add.
        const backends = postgresActivity?.backendCpuSeconds ?? 0;
        const broker = cpu0.broker === null || cpu1.broker === null ? 0 : cpu1.broker - cpu0.broker;
        const ours = cpu1.hub - cpu0.hub + backends + benchSeconds + broker;
        return Math.max(0, round(((busy - ours) / seconds) * 100, 0));
      };
      const p99Ms = roundOrNull(measured.samples.percentile(99));
      const gcSeconds = commitFigures.gcPauseSeconds;
      const pct = (a: number | null, b: number | null): number | null =>
        a === null || b === null ? null : round(((b - a) / seconds) * 100, 0);
      return {
        scenario: name,
        store: store.kind,
        readings: audit.rows,
        seconds: round(seconds, 2),
        readingsPerSec: Math.round(audit.rows / seconds),
        p50Ms: roundOrNull(measured.samples.percentile(50)),
        warmupP99Ms: measured.warmup.count > 0 ? roundOrNull(measured.warmup.percentile(99)) : null,
        p99Ms,
        latencyParts:
          measured.samples.count === 0
            ? null
            : {
                toCommitP50Ms: roundOrNull(measured.toCommit.percentile(50)),
                toCommitP99Ms: roundOrNull(measured.toCommit.percentile(99)),
                afterCommitP50Ms: roundOrNull(measured.afterCommit.percentile(50)),
                afterCommitP99Ms: roundOrNull(measured.afterCommit.percentile(99)),
              },
        latencySamples: measured.samples.count,
        latencyDevices: sampled.length,
        liveDropped: measured.dropped,
        sent,
        acked,
        lost: Math.max(0, sent - audit.distinctKeys),
        duplicates: audit.rows - audit.distinctKeys,
        rejected,
        resent,
        targetRate: name === 'latency-20k' || name === 'scaled-latency-20k' || reads ? settings.latencyRate : null,
        hubCpuPct: pct(cpu0.hub, cpu1.hub),
        hubMainThreadCpuPct: pct(cpu0.hubMain, cpu1.hubMain),
        postgresCpuPct: store.kind === 'postgres' ? pct(cpu0.pg, cpu1.pg) : null,
        hubBackendsCpuPct:
          postgresActivity === null ? null : round((postgresActivity.backendCpuSeconds / seconds) * 100, 0),
        benchCpuPct: round((benchSeconds / seconds) * 100, 0),
        hubExitCode,
        hub: commitFigures,
        roles: roleFigures,
        cpuMicrosPerReading: {
          hub: cpu0.hub === null || cpu1.hub === null ? null : perReading(cpu1.hub - cpu0.hub, audit.rows),
          postgres: postgresActivity === null ? null : perReading(postgresActivity.backendCpuSeconds, audit.rows),
          bench: perReading(benchSeconds, audit.rows),
          broker:
            cpu0.broker === null || cpu1.broker === null ? null : perReading(cpu1.broker - cpu0.broker, audit.rows),
          roles:
            cpu0.roles === null || cpu1.roles === null
              ? null
              : {
                  gateway: roleMicros(cpu0.roles.gateway, cpu1.roles.gateway, audit.rows),
                  writer: roleMicros(cpu0.roles.writer, cpu1.roles.writer, audit.rows),
                  api: roleMicros(cpu0.roles.api, cpu1.roles.api, audit.rows),
                },
        },
        otherCpuPct: otherCpu(),
        brokerCpuPct: brokerPid === null ? null : pct(cpu0.broker, cpu1.broker),
        mqttVariant: viaMqtt ? (settings.mqttVariant?.label ?? null) : null,
        mqttInHand,
        walBytesPerReading:
          postgresActivity === null || audit.rows === 0 ? null : Math.round(postgresActivity.walBytes / audit.rows),
        postgresActivity,
        readLoad: readFigures,
        legacyWorkers: legacy ? (settings.legacyWorkers ?? null) : null,
        storeCommit,
        p99WithinStoreP99Plus10: p99Ms === null || storeCommit?.p99Ms == null ? null : p99Ms <= storeCommit.p99Ms + 10,
        hubPauses: {
          eventLoopDelayP99Ms: commitFigures.eventLoopDelayP99Ms,
          eventLoopDelayMaxMs: commitFigures.eventLoopDelayMaxMs,
          gcPauseMs: gcSeconds === null ? null : round(gcSeconds * 1000, 1),
          gcPauses: commitFigures.gcPauses,
        },
        note: [note, settleNote ?? ''].filter((part) => part !== '').join('; '),
      };
    } finally {
      closeProbe();
      if (hubExitCode === null) await hub.stop(5000);
    }
  } finally {
    await store.dispose();
    await vhost?.dispose();
  }

  function legacyTotal(s: ScenarioSettings): number {
    // Bounded: pre-sealed lines are held in memory (~190 bytes per token).
    return Math.min(s.seconds * LEGACY_TOKENS_PER_SECOND, MAX_LEGACY_TOKENS);
  }

  function prepareLegacy(s: ScenarioSettings): Buffer[] {
    const total = legacyTotal(s);
    s.log(`  sealing ${total} legacy tokens before the timed phase...`);
    return sealLegacyLines(LEGACY_ENCRYPTION_KEY, total);
  }
}

interface Settled {
  readonly at: number;
  readonly invalid: number;
}

/** Waits until the hub's live stats account for `expected` messages, or until they stop moving. */
async function waitForSettled(
  stats: () => { totalValid: number; totalInvalid: number; totalDuplicate: number; at: number } | undefined,
  expected: number,
  stallMs: number,
): Promise<Settled> {
  let lastTotal = -1;
  let lastChange = Date.now();
  let settledAt = Date.now();
  for (;;) {
    const latest = stats();
    const total = latest === undefined ? 0 : latest.totalValid + latest.totalInvalid + latest.totalDuplicate;
    if (total !== lastTotal) {
      lastTotal = total;
      lastChange = Date.now();
      settledAt = latest?.at ?? Date.now();
    }
    if (total >= expected || Date.now() - lastChange > stallMs) {
      return { at: settledAt, invalid: latest?.totalInvalid ?? 0 };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

function perReading(cpuSeconds: number, readings: number): number {
  return readings === 0 ? 0 : round((cpuSeconds / readings) * 1e6, 1);
}

function roleMicros(before: number | null, after: number | null, readings: number): number | null {
  return before === null || after === null ? null : perReading(after - before, readings);
}

function roundOrNull(value: number | null): number | null {
  return value === null ? null : round(value, 2);
}
