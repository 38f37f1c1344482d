/**
 * A fleet of simulated devices producing readings at a target total rate, spread over one or more
 * NativeClients. Pacing runs on ~10 ms ticks (no timer per reading); when the hub pushes back, `send()`
 * waits and the simulator falls behind rather than buffering without bound.
 */
import type { CipherSuiteNumber, Reading } from '@sealstream/protocol';
import { NativeClient, type ClientEvent } from './native-client.js';

export interface SimulatorOptions {
  readonly host: string;
  readonly port: number;
  readonly devices: number;
  readonly devicePrefix?: string;
  /** Readings per second, all devices together. */
  readonly rate: number;
  /** Seconds to run; undefined runs until stop(). */
  readonly durationSec?: number;
  readonly keyId: string;
  readonly secret: Uint8Array;
  readonly suite?: CipherSuiteNumber;
  readonly connections?: number;
  readonly maxReadingsPerFrame?: number;
  /** First sequence number of every device; defaults to Date.now() so restarts never reuse one. */
  readonly seqStart?: number;
  readonly onEvent?: (event: ClientEvent) => void;
}

export interface SimulatorSummary {
  readonly sent: number;
  readonly acked: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly resent: number;
  readonly reconnects: number;
  readonly seconds: number;
}

interface DeviceState {
  readonly id: string;
  seq: number;
  temperature: number;
  humidity: number;
  voltage: number;
}

const TICK_MS = 10;

export class Simulator {
  private readonly clients: NativeClient[];
  private readonly devices: DeviceState[];
  private produced = 0;
  private stopped = false;
  private startedAt = 0;
  private running: Promise<SimulatorSummary> | undefined;

  constructor(private readonly options: SimulatorOptions) {
    if (options.devices < 1) throw new Error('devices must be at least 1');
    if (!(options.rate > 0)) throw new Error('rate must be positive');
    const prefix = options.devicePrefix ?? 'sim';
    const seqStart = options.seqStart ?? Date.now();
    this.devices = Array.from({ length: options.devices }, (_, i) => ({
      id: `${prefix}-${i + 1}`,
      seq: seqStart,
      temperature: 18 + Math.random() * 8,
      humidity: 40 + Math.random() * 20,
      voltage: 3.3,
    }));
    const connections = Math.max(1, Math.min(options.connections ?? 1, options.devices));
    this.clients = Array.from(
      { length: connections },
      () =>
        new NativeClient({
          host: options.host,
          port: options.port,
          keyId: options.keyId,
          secret: options.secret,
          ...(options.suite === undefined ? {} : { suite: options.suite }),
          ...(options.maxReadingsPerFrame === undefined ? {} : { maxReadingsPerFrame: options.maxReadingsPerFrame }),
          ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
        }),
    );
  }

  run(): Promise<SimulatorSummary> {
    this.running ??= this.loop();
    return this.running;
  }

  async stop(): Promise<SimulatorSummary> {
    this.stopped = true;
    return this.run();
  }

  private async loop(): Promise<SimulatorSummary> {
    this.startedAt = Date.now();
    const endAt = this.options.durationSec === undefined ? Infinity : this.startedAt + this.options.durationSec * 1000;
    let deviceIndex = 0;
    while (!this.stopped && Date.now() < endAt) {
      const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.options.rate) - this.produced;
      for (let i = 0; i < due && !this.stopped; i += 1) {
        const device = this.devices[deviceIndex];
        if (device === undefined) break;
        const client = this.clients[deviceIndex % this.clients.length];
        deviceIndex = (deviceIndex + 1) % this.devices.length;
        await client?.send(this.nextReading(device));
        this.produced += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    await Promise.all(this.clients.map((client) => client.close(10_000)));
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
      resent: sum((s) => s.resent),
      reconnects: sum((s) => s.reconnects),
      seconds: (Date.now() - this.startedAt) / 1000,
    };
  }
}

function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
