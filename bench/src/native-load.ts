/**
 * Drives a hub with the native protocol through the real emitter SDK (NativeClient): `connections`
 * clients, `devices` devices spread over them, readings created with their `ts` at the moment they are
 * made. Two shapes: as fast as the hub accepts (closed loop: each client's bounded outbox makes the
 * producer wait for acknowledgements) or a fixed rate paced in small ticks, each tick's readings sent
 * at once without waiting for a frame to fill.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { NativeClient, type FrameTransport } from '@sealstream/emitter';
import type { Reading } from '@sealstream/protocol';

export interface NativeLoadOptions {
  readonly port: number;
  /** Through something other than the hub's TCP port (an MQTT broker). */
  readonly transport?: FrameTransport;
  readonly keyId: string;
  readonly secret: Uint8Array;
  readonly devicePrefix: string;
  readonly devices: number;
  readonly connections: number;
  readonly readingsPerFrame: number;
  readonly seconds: number;
  /** Readings per second in total; undefined = as fast as the hub accepts. */
  readonly rate?: number;
  /** Bound of each client's outbox (waiting + in flight). */
  readonly outboxReadings: number;
}

export interface NativeLoadResult {
  readonly sent: number;
  readonly acked: number;
  readonly duplicatesAcked: number;
  readonly rejected: number;
  readonly resent: number;
  readonly reconnects: number;
  readonly refusals: number;
  /** Refusal reasons and disconnect causes the clients reported, with counts. */
  readonly events: Readonly<Record<string, number>>;
  /** From the first reading to the last acknowledgement (or the close timeout). */
  readonly seconds: number;
}

const PACE_TICK_MS = 2;

export async function runNativeLoad(options: NativeLoadOptions): Promise<NativeLoadResult> {
  let refusals = 0;
  const events: Record<string, number> = {};
  const tally = (what: string): void => {
    events[what] = (events[what] ?? 0) + 1;
  };
  const clients = Array.from(
    { length: options.connections },
    () =>
      new NativeClient({
        host: '127.0.0.1',
        port: options.port,
        ...(options.transport === undefined ? {} : { transport: options.transport }),
        keyId: options.keyId,
        secret: options.secret,
        maxReadingsPerFrame: options.readingsPerFrame,
        maxOutboxReadings: options.outboxReadings,
        lingerMs: 2,
        onEvent: (event) => {
          if (event.type === 'refused') {
            refusals += 1;
            tally(`refused:${event.reason ?? event.code}`);
          } else if (event.type === 'disconnected') tally(`disconnected:${event.reason}`);
          else if (event.type === 'closed-by-hub') tally(`closed-by-hub:${event.code}`);
        },
      }),
  );
  // Device i always goes through connection i % connections, as a gateway would route it.
  const seqStart = Date.now();
  const seqs = new Array<number>(options.devices).fill(seqStart);
  const groups = clients.map((_, c) =>
    Array.from({ length: options.devices }, (_, i) => i).filter((i) => i % options.connections === c),
  );
  const makeReading = (deviceIndex: number): Reading => {
    const seq = seqs[deviceIndex] ?? seqStart;
    seqs[deviceIndex] = seq + 1;
    return {
      device: `${options.devicePrefix}${deviceIndex}`,
      seq,
      ts: Date.now(),
      data: {
        temperature: 20 + (seq % 100) / 10,
        humidity: 40 + (seq % 37),
        voltage: 3.3,
      },
    };
  };

  await waitConnected(clients);
  const startedAt = Date.now();
  const endAt = startedAt + options.seconds * 1000;
  let sent = 0;

  if (options.rate === undefined) {
    await Promise.all(
      clients.map(async (client, c) => {
        const group = groups[c] ?? [];
        let cursor = 0;
        while (Date.now() < endAt) {
          // One frame's worth, then yield so acknowledgements and socket events are handled.
          for (let i = 0; i < options.readingsPerFrame; i += 1) {
            const deviceIndex = group[cursor] ?? 0;
            cursor = (cursor + 1) % group.length;
            await client.send(makeReading(deviceIndex));
            sent += 1;
          }
          await yieldToEventLoop();
        }
      }),
    );
  } else {
    const rate = options.rate;
    let deviceCursor = 0;
    while (Date.now() < endAt) {
      const due = Math.floor(((Date.now() - startedAt) / 1000) * rate) - sent;
      const touched = new Set<NativeClient>();
      for (let i = 0; i < due; i += 1) {
        const client = clients[deviceCursor % clients.length] as NativeClient;
        await client.send(makeReading(deviceCursor));
        touched.add(client);
        deviceCursor = (deviceCursor + 1) % options.devices;
        sent += 1;
      }
      // Send this tick's partial frames now: waiting for a frame to fill would add latency.
      for (const client of touched) void client.flush();
      await new Promise((resolve) => setTimeout(resolve, PACE_TICK_MS));
    }
  }

  await Promise.all(clients.map((client) => client.close(60_000)));
  const seconds = (Date.now() - startedAt) / 1000;
  const stats = clients.map((client) => client.stats());
  const sum = (pick: (s: (typeof stats)[number]) => number): number => stats.reduce((t, s) => t + pick(s), 0);
  return {
    sent,
    acked: sum((s) => s.acked),
    duplicatesAcked: sum((s) => s.duplicates),
    rejected: sum((s) => s.rejected),
    resent: sum((s) => s.resent),
    reconnects: sum((s) => s.reconnects),
    refusals,
    events,
    seconds,
  };
}

async function waitConnected(clients: readonly NativeClient[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!clients.every((client) => client.stats().connected)) {
    if (Date.now() > deadline) throw new Error('emitter clients could not connect to the hub');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
