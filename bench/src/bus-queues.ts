/**
 * `node bench/dist/bus-queues.js [--seconds N] [--readings N] [--window N] [--prefetch N] [--rate N] [--nagle] [--json]`:
 * the bus's queue type, measured. The same batches (the bus's wire shape: readings as JSON tuples) are
 * published with publisher confirms to a quorum queue and to a stream, in one run and one vhost of the
 * bench's own, and consumed with manual acks as a writer would, so the two are compared on the same
 * broker and machine. `--rate` (readings/s) paces the publisher to read latency below saturation;
 * without it the publisher keeps `--window` batches unconfirmed. `--nagle` leaves Nagle's algorithm on (amqplib's default). Reports batches/s, readings/s, publish-to-consume latency and the broker's CPU.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import amqp, { type Channel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import { createBenchVhost } from './amqp-load.js';
import { processCpuSeconds } from './hub-process.js';
import { LatencySamples } from './percentiles.js';

/** classic: a reference only (not replicated): what the broker hop costs without the quorum log. */
const QUEUE_TYPES = ['quorum', 'stream', 'classic'] as const;
type QueueType = (typeof QUEUE_TYPES)[number];

interface QueueFigures {
  readonly queueType: QueueType;
  readonly batches: number;
  readonly readingsPerSec: number;
  readonly batchesPerSec: number;
  readonly batchBytes: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly brokerCpuPct: number | null;
}

/** One batch as the bus carries it: {v, r: [device, seq, ts, receivedAt, source, data][]}. */
function batchBody(readings: number, firstSeq: number): Buffer {
  const now = Date.now();
  const rows = [];
  for (let i = 0; i < readings; i += 1) {
    const seq = firstSeq + i;
    rows.push([`dev-${seq % 100}`, seq, now, now, 'tcp', { temp: 20 + (seq % 50) / 10, load: seq % 97, ok: true }]);
  }
  return Buffer.from(JSON.stringify({ v: 1, r: rows }));
}

/** The RabbitMQ server's pid (the Erlang VM), read only: the bench never signals it. */
function brokerPid(): number | null {
  try {
    const out = execFileSync('pgrep', ['-x', 'beam.smp'], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
    const pid = Number(out);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

async function declare(channel: Channel, queue: string, type: QueueType): Promise<void> {
  await channel.assertQueue(queue, {
    durable: true,
    arguments:
      type === 'stream'
        ? { 'x-queue-type': 'stream', 'x-max-length-bytes': 2_000_000_000 }
        : { 'x-queue-type': type, 'x-single-active-consumer': true },
  });
}

async function measure(
  url: string,
  type: QueueType,
  settings: {
    seconds: number;
    readings: number;
    window: number;
    prefetch: number;
    rate: number;
    noDelay: boolean;
  },
): Promise<QueueFigures> {
  // As the hub's bus connections (bus-connection.ts): Nagle off, or small frames wait for delayed ACKs.
  const connection = await amqp.connect(url, { noDelay: settings.noDelay });
  const consumerConnection = await amqp.connect(url, { noDelay: settings.noDelay });
  try {
    const queue = `bench.${type}`;
    const publisher: ConfirmChannel = await connection.createConfirmChannel();
    await declare(publisher, queue, type);
    const consumer = await consumerConnection.createChannel();
    await consumer.prefetch(settings.prefetch);
    const latency = new LatencySamples();
    let consumed = 0;
    let consumedReadings = 0;
    let measuring = false;
    const onMessage = (message: ConsumeMessage | null): void => {
      if (message === null) return;
      const sentAt = Number(message.properties.timestamp);
      if (measuring) {
        consumed += 1;
        consumedReadings += settings.readings;
        latency.add(Date.now() - sentAt);
      }
      consumer.ack(message);
    };
    await consumer.consume(queue, onMessage, type === 'stream' ? { arguments: { 'x-stream-offset': 'next' } } : {});

    const pid = brokerPid();
    let seq = 0;
    let inFlight = 0;
    let stop = false;
    const began = Date.now();
    const publishLoop = async (): Promise<void> => {
      while (!stop) {
        // --rate paces publishing (readings/s) to read latency at a load the broker keeps up with.
        const due = settings.rate > 0 && seq >= ((Date.now() - began) / 1000) * settings.rate;
        if (due) {
          await new Promise<void>((resolve) => setTimeout(resolve, 1));
          continue;
        }
        if (inFlight >= settings.window) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          continue;
        }
        inFlight += 1;
        const body = batchBody(settings.readings, seq);
        seq += settings.readings;
        publisher.publish('', queue, body, { persistent: true, timestamp: Date.now() }, () => {
          inFlight -= 1;
        });
        // Yield now and then so the socket drains and confirms come in.
        if (seq % (settings.readings * 8) === 0) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    const loop = publishLoop();
    // Warm up one second, then measure.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    measuring = true;
    const cpu0 = pid === null ? null : processCpuSeconds(pid);
    const start = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, settings.seconds * 1000));
    measuring = false;
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const cpu1 = pid === null ? null : processCpuSeconds(pid);
    stop = true;
    await loop;
    await publisher.waitForConfirms().catch(() => undefined);
    await publisher.deleteQueue(queue).catch(() => undefined);
    return {
      queueType: type,
      batches: consumed,
      readingsPerSec: Math.round(consumedReadings / elapsed),
      batchesPerSec: Math.round(consumed / elapsed),
      batchBytes: batchBody(settings.readings, 0).byteLength,
      p50Ms: latency.percentile(50),
      p99Ms: latency.percentile(99),
      brokerCpuPct: cpu0 === null || cpu1 === null ? null : Math.round(((cpu1 - cpu0) / elapsed) * 100),
    };
  } finally {
    await connection.close().catch(() => undefined);
    await consumerConnection.close().catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '8' },
      readings: { type: 'string', default: '500' },
      window: { type: 'string', default: '32' },
      prefetch: { type: 'string', default: '16' },
      rate: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1:5672' },
      json: { type: 'boolean', default: false },
      nagle: { type: 'boolean', default: false },
    },
  });
  const settings = {
    seconds: Number(values.seconds),
    readings: Number(values.readings),
    window: Number(values.window),
    prefetch: Number(values.prefetch),
    rate: Number(values.rate),
    noDelay: !values.nagle,
  };
  const vhost = await createBenchVhost(values.host);
  try {
    for (const type of QUEUE_TYPES) {
      const figures = await measure(vhost.url, type, settings);
      if (values.json) console.log(JSON.stringify({ ...figures, ...settings }));
      else
        console.log(
          `${type.padEnd(7)} ${figures.readingsPerSec.toLocaleString('en-US').padStart(10)} readings/s  ` +
            `${figures.batchesPerSec} batches/s of ${settings.readings} (${figures.batchBytes} B)  ` +
            `publish→consume p50 ${figures.p50Ms} ms p99 ${figures.p99Ms} ms  broker CPU ${figures.brokerCpuPct} %`,
        );
    }
  } finally {
    await vhost.dispose();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
