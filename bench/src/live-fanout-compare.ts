/**
 * `node bench/dist/live-fanout-compare.js [--seconds N] [--rate N] [--clients N] [--devices N]
 * [--commit-every-ms N] [--rounds N] [--json]`: how committed readings should reach the dashboards of
 * several api nodes, measured. Two arms at the same fixed rate, alternated (bus, redis, bus, redis, …)
 * in one run so machine noise hits both:
 *   bus:   the writer publishes each commit once to the RabbitMQ committed fanout (a vhost of the run's
 *          own); each api node consumes its own bounded queue and emits to its rooms (the hub's design);
 *   redis: the api nodes' Socket.IO servers use @socket.io/redis-adapter and the writer emits each
 *          commit's room sends through @socket.io/redis-emitter (a Redis key of the run's own).
 * Both run the same room emit code (live-fanout-rooms.ts), only in another process. Each phase forks
 * two api nodes and a writer; the bench process holds the subscribers: per node `--clients` following 5
 * devices each, plus one following the overview room. Figures per arm: latency from the writer's
 * publish to the subscriber (p50/p99), readings delivered vs sent, and CPU µs per committed reading of
 * the writer, each api node, the middleman (RabbitMQ's beam.smp or redis-server, from /proc; both
 * serve other sessions too) and the subscribers, with the rest of the machine's busy time as otherCpu.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '@sealstream/protocol';
import { createBenchVhost } from './amqp-load.js';
import { findBrokerPid } from './broker-cpu.js';
import { machineCpuSeconds, processCpuSeconds } from './hub-process.js';
import {
  deviceName,
  type FanoutArm,
  type NodeCommand,
  type NodeEvent,
  type SubscriberAuth,
  type TransportSettings,
  type WriterCommand,
  type WriterEvent,
  type WriterSettings,
} from './live-fanout-ipc.js';
import { LatencySamples } from './percentiles.js';

const API_NODES = 2;
const DEVICES_PER_CLIENT = 5;
/** Each phase starts cold (new processes): JIT and the first queues settle in this, untimed. */
const WARMUP_MS = 3_000;
/** After the writer's last commit: wait for arrivals until none came for this long (or all did). */
const QUIET_MS = 1_000;
const DRAIN_LIMIT_MS = 15_000;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '2' },
    devices: { type: 'string', default: '100' },
    'commit-every-ms': { type: 'string', default: '3' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

const seconds = Number(args.seconds);
const rate = Number(args.rate);
const clientsPerNode = Number(args.clients);
const devices = Number(args.devices);
const commitEveryMs = Number(args['commit-every-ms']);
const rounds = Number(args.rounds);

interface Subscriber {
  readonly node: number;
  readonly auth: SubscriberAuth;
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  delivered: number;
  dropped: number;
}

interface CpuSnapshot {
  readonly at: number;
  readonly writer: number | null;
  readonly nodes: Array<number | null>;
  readonly middleman: number | null;
  readonly bench: number;
  readonly machine: { busy: number; total: number } | null;
}

export interface PhaseFigures {
  readonly arm: FanoutArm;
  readonly round: number;
  readonly startedAt: string;
  readonly seconds: number;
  readonly sent: number;
  /** Readings/s the writer achieved (below --rate when it fell behind its schedule). */
  readonly achievedRate: number;
  readonly commits: number;
  readonly lateCommits: number;
  readonly writerPublishes: number;
  readonly expected: number;
  readonly delivered: number;
  readonly lost: number;
  readonly capDropped: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly deviceP99Ms: number | null;
  readonly overviewP99Ms: number | null;
  /**
   * Per api node: writer's publish to the node's broadcast of a room send (p50/p99, ms), and the node's
   * event loop (delay p99 in ms, utilization 0..1; over the node's life, warm-up included).
   */
  readonly nodeHopMs: ReadonlyArray<{
    p50: number | null;
    p99: number | null;
    loopDelayP99: number;
    loopUtilization: number;
  }>;
  /** Publishes the writer's transport made wait for a drain, and the total wait in ms. */
  readonly drainWaits: number;
  readonly drainWaitMs: number;
  readonly cpuMicrosPerReading: {
    readonly writer: number | null;
    readonly apiNodes: Array<number | null>;
    readonly middleman: number | null;
    /** The middleman less its idle rate measured before the phase (other sessions' share, roughly). */
    readonly middlemanNet: number | null;
    readonly subscribers: number | null;
    /** Writer, api nodes and middleman. */
    readonly total: number | null;
  };
  readonly middlemanIdleCpuPct: number | null;
  readonly otherCpuPct: number | null;
  readonly latency: LatencySamples;
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}

function benchCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

function forkChild<E>(script: string, settings: object, onEvent: (event: E) => void): ChildProcess {
  const child = fork(new URL(script, import.meta.url), [JSON.stringify(settings)], { stdio: 'inherit' });
  child.on('message', (event) => onEvent(event as E));
  return child;
}

function waitFor<T>(what: string, register: (resolve: (value: T) => void) => void, timeoutMs = 30_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

async function stopChild(child: ChildProcess, command: object): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send(command);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function connectSubscriber(node: number, port: number, auth: SubscriberAuth, sink: Subscriber[]): Promise<void> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io(`http://127.0.0.1:${port}`, {
    auth: { ...auth },
    transports: ['websocket'],
    reconnection: false,
  });
  const subscriber: Subscriber = { node, auth, socket, delivered: 0, dropped: 0 };
  sink.push(subscriber);
  // The api node answers the join with one `stats` event: the rooms are in place.
  await waitFor<void>(`subscriber of node ${node}`, (resolve) => socket.once('stats', () => resolve()), 10_000);
}

async function runPhase(
  arm: FanoutArm,
  roundNumber: number,
  transport: Omit<TransportSettings, 'arm'>,
  middlemanPid: number | null,
): Promise<PhaseFigures> {
  const settings: TransportSettings = { ...transport, arm };
  const nodes: ChildProcess[] = [];
  const ports: number[] = [];
  const errors: string[] = [];
  const totalsWaiting: Array<((event: Extract<NodeEvent, { type: 'totals' }>) => void) | undefined> = [];
  for (let n = 0; n < API_NODES; n += 1) {
    let listening: ((port: number) => void) | undefined;
    const child = forkChild<NodeEvent>('./live-fanout-api-node.js', settings, (event) => {
      if (event.type === 'listening') listening?.(event.port);
      else if (event.type === 'totals') totalsWaiting[n]?.(event);
      else errors.push(`api node ${n}: ${event.message}`);
    });
    nodes.push(child);
    ports.push(await waitFor<number>(`api node ${n}`, (resolve) => (listening = resolve)));
  }

  const subscribers: Subscriber[] = [];
  const all = new LatencySamples();
  const deviceLatency = new LatencySamples();
  const overviewLatency = new LatencySamples();
  let arrivals = 0;
  for (let n = 0; n < API_NODES; n += 1) {
    for (let c = 0; c < clientsPerNode; c += 1) {
      const first = (n * clientsPerNode + c) * DEVICES_PER_CLIENT;
      const followed = Array.from({ length: DEVICES_PER_CLIENT }, (_, i) => deviceName((first + i) % devices));
      await connectSubscriber(n, ports[n] as number, { overview: false, devices: followed }, subscribers);
    }
    await connectSubscriber(n, ports[n] as number, { overview: true, devices: [] }, subscribers);
  }
  for (const subscriber of subscribers) {
    const samples = subscriber.auth.overview ? overviewLatency : deviceLatency;
    subscriber.socket.on('readings', (batch) => {
      const now = Date.now();
      subscriber.dropped += batch.dropped;
      for (const reading of batch.readings) {
        if (reading.seq < 0) continue; // the warm-up's
        subscriber.delivered += 1;
        arrivals += 1;
        const ms = now - reading.committedAt;
        all.add(ms);
        samples.add(ms);
      }
    });
  }

  let timed: (() => void) | undefined;
  let done: ((event: Extract<WriterEvent, { type: 'done' }>) => void) | undefined;
  const writerSettings: WriterSettings = { ...settings, rate, devices, commitEveryMs };
  let ready: (() => void) | undefined;
  const writer = forkChild<WriterEvent>('./live-fanout-writer.js', writerSettings, (event) => {
    if (event.type === 'ready') ready?.();
    else if (event.type === 'timed') timed?.();
    else if (event.type === 'done') done?.(event);
    else errors.push(`writer: ${event.message}`);
  });
  await waitFor<void>('the writer', (resolve) => (ready = resolve));

  // The middleman's CPU with everything connected but nothing sent: other sessions' share, for reference.
  const idle0 = { at: performance.now(), cpu: middlemanPid === null ? null : processCpuSeconds(middlemanPid) };
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idle1 = { at: performance.now(), cpu: middlemanPid === null ? null : processCpuSeconds(middlemanPid) };
  const middlemanIdleCpuPct =
    idle0.cpu === null || idle1.cpu === null
      ? null
      : round1(((idle1.cpu - idle0.cpu) / ((idle1.at - idle0.at) / 1000)) * 100);

  const snapshot = (): CpuSnapshot => ({
    at: performance.now(),
    writer: writer.pid === undefined ? null : processCpuSeconds(writer.pid),
    nodes: nodes.map((node) => (node.pid === undefined ? null : processCpuSeconds(node.pid))),
    middleman: middlemanPid === null ? null : processCpuSeconds(middlemanPid),
    bench: benchCpuSeconds(),
    machine: machineCpuSeconds(),
  });

  const startedAt = new Date().toISOString();
  const timedStarted = waitFor<void>('the timed phase', (resolve) => (timed = resolve));
  const finished = waitFor<Extract<WriterEvent, { type: 'done' }>>(
    'the writer to finish',
    (resolve) => (done = resolve),
    (seconds + 60) * 1000,
  );
  writer.send({ type: 'go', warmupMs: WARMUP_MS, seconds } satisfies WriterCommand);
  await timedStarted;
  const cpu0 = snapshot();
  const result = await finished;

  // Drain: until every expected reading arrived, or none arrived for QUIET_MS.
  const expectedOf = (subscriber: Subscriber): number =>
    subscriber.auth.overview
      ? result.overviewSent
      : subscriber.auth.devices.reduce((sum, device) => sum + (result.perDevice[device] ?? 0), 0);
  const expected = subscribers.reduce((sum, subscriber) => sum + expectedOf(subscriber), 0);
  const drainStart = performance.now();
  let lastArrivals = arrivals;
  let lastChange = performance.now();
  while (arrivals < expected && performance.now() - drainStart < DRAIN_LIMIT_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (arrivals !== lastArrivals) {
      lastArrivals = arrivals;
      lastChange = performance.now();
    } else if (performance.now() - lastChange >= QUIET_MS) break;
  }
  const cpu1 = snapshot();

  const hops: Array<{ p50: number | null; p99: number | null; loopDelayP99: number; loopUtilization: number }> = [];
  for (let n = 0; n < API_NODES; n += 1) {
    const totals = waitFor<Extract<NodeEvent, { type: 'totals' }>>(
      `api node ${n} totals`,
      (resolve) => (totalsWaiting[n] = resolve),
    );
    nodes[n]?.send({ type: 'totals' } satisfies NodeCommand);
    const event = await totals;
    hops.push({
      p50: event.hopP50Ms,
      p99: event.hopP99Ms,
      loopDelayP99: event.loopDelayP99Ms,
      loopUtilization: event.loopUtilization,
    });
  }
  for (const subscriber of subscribers) subscriber.socket.close();
  await stopChild(writer, { type: 'stop' } satisfies WriterCommand);
  for (const node of nodes) await stopChild(node, { type: 'stop' } satisfies NodeCommand);
  if (errors.length > 0) console.error(`[${arm}] ${errors.slice(0, 5).join('\n')}`);

  const windowSeconds = (cpu1.at - cpu0.at) / 1000;
  const delta = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a === null || a === undefined || b === null || b === undefined ? null : b - a;
  const perReading = (cpuSeconds: number | null): number | null =>
    cpuSeconds === null || result.sent === 0 ? null : round1((cpuSeconds / result.sent) * 1e6);
  const writerCpu = delta(cpu0.writer, cpu1.writer);
  const nodeCpu = nodes.map((_, n) => delta(cpu0.nodes[n], cpu1.nodes[n]));
  const middlemanCpu = delta(cpu0.middleman, cpu1.middleman);
  const benchCpu = cpu1.bench - cpu0.bench;
  const parts = [writerCpu, ...nodeCpu, middlemanCpu];
  // What the fan-out costs: writer, api nodes and middleman (the subscribers are the dashboards' side).
  const fanOut = parts.every((part) => part !== null) ? (parts as number[]).reduce((sum, part) => sum + part, 0) : null;
  const ours = fanOut === null ? null : fanOut + benchCpu;
  const busy = cpu0.machine === null || cpu1.machine === null ? null : cpu1.machine.busy - cpu0.machine.busy;
  const delivered = subscribers.reduce((sum, subscriber) => sum + subscriber.delivered, 0);
  return {
    arm,
    round: roundNumber,
    startedAt,
    seconds: round1(windowSeconds),
    sent: result.sent,
    achievedRate: Math.round(result.sent / (result.elapsedMs / 1000)),
    commits: result.commits,
    lateCommits: result.lateCommits,
    writerPublishes: result.publishes,
    expected,
    delivered,
    lost: expected - delivered,
    capDropped: subscribers.reduce((sum, subscriber) => sum + subscriber.dropped, 0),
    p50Ms: all.percentile(50),
    p90Ms: all.percentile(90),
    p99Ms: all.percentile(99),
    maxMs: all.percentile(100),
    deviceP99Ms: deviceLatency.percentile(99),
    overviewP99Ms: overviewLatency.percentile(99),
    nodeHopMs: hops,
    drainWaits: result.drainWaits,
    drainWaitMs: result.drainWaitMs,
    cpuMicrosPerReading: {
      writer: perReading(writerCpu),
      apiNodes: nodeCpu.map(perReading),
      middleman: perReading(middlemanCpu),
      middlemanNet:
        middlemanCpu === null || middlemanIdleCpuPct === null
          ? null
          : perReading(Math.max(0, middlemanCpu - (middlemanIdleCpuPct / 100) * windowSeconds)),
      subscribers: perReading(benchCpu),
      total: perReading(fanOut),
    },
    middlemanIdleCpuPct,
    otherCpuPct: busy === null || ours === null ? null : Math.max(0, Math.round(((busy - ours) / windowSeconds) * 100)),
    latency: all,
  };
}

interface ArmSummary {
  readonly arm: FanoutArm;
  readonly sent: number;
  readonly expected: number;
  readonly delivered: number;
  readonly lossPct: number;
  readonly achievedRate: number;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly lateCommits: number;
  readonly otherCpuPct: number | null;
  readonly cpuMicrosPerReading: {
    readonly writer: number | null;
    readonly apiNode: number | null;
    readonly middleman: number | null;
    readonly middlemanNet: number | null;
    readonly total: number | null;
  };
}

/** Both phases of an arm together: latency over every sample, CPU as the mean of the phases'. */
function summarize(arm: FanoutArm, phases: readonly PhaseFigures[]): ArmSummary {
  const mine = phases.filter((phase) => phase.arm === arm);
  const samples = new LatencySamples();
  for (const phase of mine) for (const value of phase.latency.snapshot().values) samples.add(value);
  const mean = (values: Array<number | null>): number | null =>
    values.some((value) => value === null) || values.length === 0
      ? null
      : round1((values as number[]).reduce((sum, value) => sum + value, 0) / values.length);
  const sent = mine.reduce((sum, phase) => sum + phase.sent, 0);
  const expected = mine.reduce((sum, phase) => sum + phase.expected, 0);
  const delivered = mine.reduce((sum, phase) => sum + phase.delivered, 0);
  return {
    arm,
    sent,
    expected,
    delivered,
    lossPct: expected === 0 ? 0 : Math.round(((expected - delivered) / expected) * 10_000) / 100,
    achievedRate: Math.round(mine.reduce((sum, phase) => sum + phase.achievedRate, 0) / Math.max(1, mine.length)),
    p50Ms: samples.percentile(50),
    p90Ms: samples.percentile(90),
    p99Ms: samples.percentile(99),
    lateCommits: mine.reduce((sum, phase) => sum + phase.lateCommits, 0),
    otherCpuPct: mean(mine.map((phase) => phase.otherCpuPct)),
    cpuMicrosPerReading: {
      writer: mean(mine.map((phase) => phase.cpuMicrosPerReading.writer)),
      apiNode: mean(mine.flatMap((phase) => phase.cpuMicrosPerReading.apiNodes)),
      middleman: mean(mine.map((phase) => phase.cpuMicrosPerReading.middleman)),
      middlemanNet: mean(mine.map((phase) => phase.cpuMicrosPerReading.middlemanNet)),
      total: mean(mine.map((phase) => phase.cpuMicrosPerReading.total)),
    },
  };
}

async function main(): Promise<void> {
  const vhost = await createBenchVhost('127.0.0.1');
  const runId = randomBytes(6).toString('hex');
  const transport: Omit<TransportSettings, 'arm'> = {
    amqpUrl: vhost.url,
    busPrefix: `fanout${runId}`,
    redisHost: '127.0.0.1',
    redisPort: 6379,
    redisKey: `sealstream-bench-fanout-${runId}`,
  };
  const pids: Record<FanoutArm, number | null> = {
    bus: findBrokerPid('beam.smp'),
    redis: findBrokerPid('redis-server'),
  };
  const phases: PhaseFigures[] = [];
  const startedAt = new Date().toISOString();
  try {
    for (let r = 1; r <= rounds; r += 1) {
      for (const arm of ['bus', 'redis'] as const) {
        const phase = await runPhase(arm, r, transport, pids[arm]);
        phases.push(phase);
        // In --json mode the phases go to stderr, so stdout stays one JSON document.
        printPhase(phase, args.json ? console.error : console.log);
      }
    }
  } finally {
    await vhost.dispose();
  }
  const summaries = (['bus', 'redis'] as const).map((arm) => summarize(arm, phases));
  if (args.json) {
    console.log(
      JSON.stringify(
        {
          startedAt,
          settings: { seconds, rate, clientsPerNode, devices, commitEveryMs, rounds, apiNodes: API_NODES },
          summaries,
          phases: phases.map(({ latency: _latency, ...rest }) => rest),
        },
        null,
        2,
      ),
    );
    return;
  }
  console.log(`\nstarted ${startedAt}; ${rate} readings/s, ${seconds} s per phase, ${rounds} rounds`);
  for (const s of summaries) {
    const c = s.cpuMicrosPerReading;
    console.log(
      `${s.arm.padEnd(5)} delivered ${s.delivered}/${s.expected} (loss ${s.lossPct}%) at ${s.achievedRate}/s  p50 ${s.p50Ms} ms  p90 ${s.p90Ms} ms  p99 ${s.p99Ms} ms  ` +
        `CPU µs/reading: writer ${c.writer}, api node ${c.apiNode}, middleman ${c.middleman} (net of idle ${c.middlemanNet}), total ${c.total}; ` +
        `late commits ${s.lateCommits}; other CPU ${s.otherCpuPct}%`,
    );
  }
}

function printPhase(phase: PhaseFigures, print: (line: string) => void): void {
  const c = phase.cpuMicrosPerReading;
  print(
    `[${phase.round}/${phase.arm}] ${phase.startedAt} ${phase.seconds}s sent ${phase.sent} (${phase.achievedRate}/s) in ${phase.commits} commits ` +
      `(late ${phase.lateCommits}, publishes ${phase.writerPublishes}); delivered ${phase.delivered}/${phase.expected}; ` +
      `p50 ${phase.p50Ms} p90 ${phase.p90Ms} p99 ${phase.p99Ms} max ${phase.maxMs} ms (device p99 ${phase.deviceP99Ms}, overview p99 ${phase.overviewP99Ms}; to api node ${phase.nodeHopMs.map((h) => `${h.p50}/${h.p99} (loop p99 ${h.loopDelayP99} ms, ELU ${h.loopUtilization})`).join(', ')}; ` +
      `writer drain waits ${phase.drainWaits} (${phase.drainWaitMs} ms)); ` +
      `CPU µs/reading writer ${c.writer} nodes ${c.apiNodes.join('/')} middleman ${c.middleman} (net ${c.middlemanNet}) subscribers ${c.subscribers} ` +
      `total ${c.total}; middleman idle ${phase.middlemanIdleCpuPct}%; other ${phase.otherCpuPct}%`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
