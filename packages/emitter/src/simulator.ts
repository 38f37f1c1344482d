/**
 * A fleet of simulated devices producing readings at a target total rate, spread over NativeClients.
 * Pacing runs on ~10 ms ticks (no timer per reading). When the hub pushes back, `send()` waits and the
 * fleet falls behind; it catches up by at most one second's worth of readings, and whatever it could not
 * produce beyond that is counted as `skipped` rather than buffered without bound.
 */
import type { CipherSuiteNumber, Reading } from '@sealstream/protocol';
import type { BackoffOptions } from './backoff.js';
import type { FrameTransport } from './frame-link.js';
import { NativeClient, type ClientEvent } from './native-client.js';

export interface DeviceKeyRef {
  readonly keyId: string;
  /** 32 bytes. */
  readonly secret: Uint8Array;
}

export interface SimulatorOptions {
  readonly host: string;
  readonly port: number;
  /** How the clients reach the hub; default TCP to host:port. */
  readonly transport?: FrameTransport;
  readonly devices: number;
  /** Device ids are `${devicePrefix}-1` .. `${devicePrefix}-N`. Default `sim`. */
  readonly devicePrefix?: string;
  /** Exact device ids (a registered device's); when given, `devices` and `devicePrefix` are not used. */
  readonly deviceIds?: readonly string[];
  /** Readings per second, all devices together. */
  readonly rate: number;
  /** Seconds to run; undefined runs until stop(). */
  readonly durationSec?: number;
  /** The shared key, used by every device without an entry in `keys`. */
  readonly keyId?: string;
  readonly secret?: Uint8Array;
  /** Per-device keys (device id -> key). Devices sharing a keyId share that key's connection. */
  readonly keys?: ReadonlyMap<string, DeviceKeyRef> | Readonly<Record<string, DeviceKeyRef>>;
  readonly suite?: CipherSuiteNumber;
  /** Connections the shared-key devices are spread over (default 1). Each per-device key gets its own. */
  readonly connections?: number;
  readonly maxReadingsPerFrame?: number;
  readonly lingerMs?: number;
  readonly maxOutboxReadings?: number;
  readonly reconnect?: BackoffOptions;
  /** First sequence number of every device; defaults to Date.now() so a restarted fleet never reuses one. */
  readonly seqStart?: number;
  /** How long stop() waits for outstanding acknowledgements per client. Default 10 s. */
  readonly closeTimeoutMs?: number;
  readonly onEvent?: (event: ClientEvent) => void;
}

export interface SimulatorSummary {
  /** Readings handed to the clients (queued). */
  readonly sent: number;
  readonly acked: number;
  readonly duplicates: number;
  readonly rejected: number;
  /**
   * Readings refused for good, by reason. ERROR frames name their reason; readings refused one by one
   * inside an ACK (device_not_allowed, timestamp_out_of_range, schema_invalid...) are only counted by the
   * protocol, under `in_ack` (each reason is in the hub's dead letters).
   */
  readonly refusedByReason: Readonly<Record<string, number>>;
  readonly resent: number;
  readonly reconnects: number;
  /** Readings the pacing schedule wanted but the fleet could not produce because the hub held it back. */
  readonly skipped: number;
  readonly seconds: number;
}

interface DeviceState {
  readonly id: string;
  readonly client: NativeClient;
  seq: number;
  temperature: number;
  humidity: number;
  voltage: number;
}

const TICK_MS = 10;

export class Simulator {
  private readonly clients: NativeClient[] = [];
  private readonly devices: DeviceState[];
  private produced = 0;
  private readonly refusedByReason: Record<string, number> = {};
  private skipped = 0;
  private stopped = false;
  /** Set when the run is over and the clients close: the hub's CLOSE answer is then no news. */
  private closing = false;
  private startedAt = 0;
  private running: Promise<SimulatorSummary> | undefined;
  private wakeStop: () => void = () => undefined;
  private readonly stopSignal = new Promise<'stop'>((resolve) => {
    this.wakeStop = () => resolve('stop');
  });

  constructor(private readonly options: SimulatorOptions) {
    if (options.deviceIds !== undefined && options.deviceIds.length === 0) throw new Error('deviceIds is empty');
    if (options.deviceIds === undefined && (!Number.isInteger(options.devices) || options.devices < 1))
      throw new Error('devices must be an integer >= 1');
    if (!(options.rate > 0)) throw new Error('rate must be positive');
    const prefix = options.devicePrefix ?? 'sim';
    const seqStart = options.seqStart ?? Date.now();
    const ids = options.deviceIds ?? Array.from({ length: options.devices }, (_, i) => `${prefix}-${i + 1}`);
    const keyOf = keyLookup(options.keys);

    const sharedIds = ids.filter((id) => keyOf(id) === undefined);
    const sharedClients: NativeClient[] = [];
    if (sharedIds.length > 0) {
      if (options.keyId === undefined || options.secret === undefined) {
        throw new Error('keyId and secret are required for devices without a per-device key');
      }
      const count = Math.max(1, Math.min(options.connections ?? 1, sharedIds.length));
      for (let i = 0; i < count; i += 1) {
        sharedClients.push(this.newClient({ keyId: options.keyId, secret: options.secret }));
      }
    }
    const keyedClients = new Map<string, NativeClient>();
    let sharedIndex = 0;
    this.devices = ids.map((id) => {
      const key = keyOf(id);
      let client: NativeClient | undefined;
      if (key === undefined) {
        client = sharedClients[sharedIndex % sharedClients.length];
        sharedIndex += 1;
      } else {
        client = keyedClients.get(key.keyId);
        if (client === undefined) {
          client = this.newClient(key);
          keyedClients.set(key.keyId, client);
        }
      }
      if (client === undefined) throw new Error('no client for device');
      return {
        id,
        client,
        seq: seqStart,
        temperature: 18 + Math.random() * 8,
        humidity: 40 + Math.random() * 20,
        voltage: 3.3,
      };
    });
  }

  /** Starts producing (idempotent); resolves with the summary after the duration or stop(). */
  run(): Promise<SimulatorSummary> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Stops producing, waits (bounded) for outstanding acknowledgements and returns the summary. */
  async stop(): Promise<SimulatorSummary> {
    this.stopped = true;
    this.wakeStop();
    return this.run();
  }

  private newClient(key: DeviceKeyRef): NativeClient {
    const o = this.options;
    const client = new NativeClient({
      host: o.host,
      port: o.port,
      ...(o.transport === undefined ? {} : { transport: o.transport }),
      keyId: key.keyId,
      secret: key.secret,
      ...(o.suite === undefined ? {} : { suite: o.suite }),
      ...(o.maxReadingsPerFrame === undefined ? {} : { maxReadingsPerFrame: o.maxReadingsPerFrame }),
      ...(o.lingerMs === undefined ? {} : { lingerMs: o.lingerMs }),
      ...(o.maxOutboxReadings === undefined ? {} : { maxOutboxReadings: o.maxOutboxReadings }),
      ...(o.reconnect === undefined ? {} : { reconnect: o.reconnect }),
      onEvent: (event) => {
        if (event.type === 'refused' && !event.retrying && event.readings > 0) {
          const reason = event.reason ?? `code_${event.code}`;
          this.refusedByReason[reason] = (this.refusedByReason[reason] ?? 0) + event.readings;
        }
        if (this.closing && isOrderlyEnd(event)) return;
        o.onEvent?.(event);
      },
    });
    client.on('ack', (ack) => {
      if (ack.rejected > 0) this.refusedByReason.in_ack = (this.refusedByReason.in_ack ?? 0) + ack.rejected;
    });
    this.clients.push(client);
    return client;
  }

  private async loop(): Promise<SimulatorSummary> {
    this.startedAt = Date.now();
    const rate = this.options.rate;
    const durationSec = this.options.durationSec;
    // A run of D seconds at R readings/s produces exactly D × R readings (the last one is due at the very
    // end): the schedule never passes that total, and the pass the deadline wakes produces what is still due.
    const total = durationSec === undefined ? Infinity : Math.floor(durationSec * rate + 1e-9);
    const scheduledBy = (now: number): number => Math.min(total, Math.floor(((now - this.startedAt) / 1000) * rate));
    let deadlineReached = false;
    let wakeDeadline: () => void = () => undefined;
    const deadline = new Promise<'deadline'>((resolve) => (wakeDeadline = () => resolve('deadline')));
    // Raced only when there is a deadline: a promise that never settles gathers a reaction per race.
    const deadlines = durationSec === undefined ? [] : [deadline];
    let durationTimer: NodeJS.Timeout | undefined;
    if (durationSec !== undefined) {
      durationTimer = setTimeout(() => {
        deadlineReached = true;
        wakeDeadline();
      }, durationSec * 1000);
    }
    const maxCatchUp = Math.max(1, Math.ceil(rate));
    let deviceIndex = 0;
    try {
      while (!this.stopped) {
        const last = deadlineReached;
        let due = (last ? total : scheduledBy(Date.now())) - this.produced - this.skipped;
        if (due > maxCatchUp) {
          this.skipped += due - maxCatchUp;
          due = maxCatchUp;
        }
        for (let i = 0; i < due && !this.stopped; i += 1) {
          const device = this.devices[deviceIndex];
          if (device === undefined) break;
          deviceIndex = (deviceIndex + 1) % this.devices.length;
          const sending = device.client.send(this.nextReading(device));
          // send() resolves at once unless the outbox is full; only then is racing the stop signal worth it.
          // In the last pass a full outbox ends the run (what it could not take counts as skipped).
          const outcome = await Promise.race([
            sending.then(() => 'sent' as const),
            this.stopSignal,
            ...(last ? [new Promise<'blocked'>((resolve) => setImmediate(() => resolve('blocked')))] : deadlines),
          ]);
          if (outcome !== 'sent') {
            sending.catch(() => undefined);
            break;
          }
          this.produced += 1;
        }
        if (this.stopped || last) break;
        await Promise.race([new Promise((resolve) => setTimeout(resolve, TICK_MS)), this.stopSignal, ...deadlines]);
      }
    } finally {
      clearTimeout(durationTimer);
    }
    // A producer still blocked on a full outbox at the end never got to catch up: count that too.
    const scheduled = deadlineReached ? total : scheduledBy(Date.now());
    this.skipped = Math.max(this.skipped, scheduled - this.produced);
    const closeTimeoutMs = this.options.closeTimeoutMs ?? 10_000;
    this.closing = true;
    await Promise.all(this.clients.map((client) => client.close(closeTimeoutMs)));
    return this.summary();
  }

  private nextReading(device: DeviceState): Reading {
    device.temperature += (Math.random() - 0.5) * 0.2;
    device.humidity = Math.min(100, Math.max(0, device.humidity + (Math.random() - 0.5) * 0.5));
    device.voltage = Math.max(2.8, Math.min(3.6, device.voltage + (Math.random() - 0.5) * 0.01));
    const reading: Reading = {
      device: device.id,
      seq: device.seq,
      ts: Date.now(),
      data: {
        temperature: round(device.temperature),
        humidity: round(device.humidity),
        voltage: round(device.voltage, 3),
      },
    };
    device.seq += 1;
    return reading;
  }

  private summary(): SimulatorSummary {
    const stats = this.clients.map((client) => client.stats());
    const sum = (pick: (s: (typeof stats)[number]) => number): number => stats.reduce((total, s) => total + pick(s), 0);
    return {
      sent: this.produced,
      acked: sum((s) => s.acked),
      duplicates: sum((s) => s.duplicates),
      rejected: sum((s) => s.rejected),
      refusedByReason: { ...this.refusedByReason },
      resent: sum((s) => s.resent),
      reconnects: sum((s) => s.reconnects),
      skipped: this.skipped,
      seconds: (Date.now() - this.startedAt) / 1000,
    };
  }
}

function keyLookup(keys: SimulatorOptions['keys']): (deviceId: string) => DeviceKeyRef | undefined {
  if (keys === undefined) return () => undefined;
  if (keys instanceof Map) return (id) => keys.get(id);
  const record = keys as Readonly<Record<string, DeviceKeyRef>>;
  return (id) => (Object.hasOwn(record, id) ? record[id] : undefined);
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/** The hub's answer to the CLOSE a finished run sends, and the end of that connection with nothing to resend. */
function isOrderlyEnd(event: ClientEvent): boolean {
  return (
    (event.type === 'closed-by-hub' && event.code === 0) || (event.type === 'disconnected' && event.requeued === 0)
  );
}
