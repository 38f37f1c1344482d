/**
 * A few devices streaming through one NativeClient: every tick each device sends its next reading
 * (seq 0, 1, 2, … per device) carrying a temperature (first, so the table's trend follows it) and its
 * own number, so a page can be checked to show the right device's readings. Counts what it sent so totals can be compared with what the hub says.
 */
import { NativeClient } from '@sealstream/emitter';

const FLUSH_TIMEOUT_MS = 10_000;

export interface FleetOptions {
  readonly port: number;
  readonly keyId: string;
  readonly secret: Uint8Array;
  readonly devices: readonly string[];
  readonly tickMs: number;
  /** First seq of every device; a later fleet continues where an earlier one stopped, so nothing is a duplicate. */
  readonly firstSeq?: number;
}

export class DeviceFleet {
  private readonly client: NativeClient;
  private readonly seqs = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private sending: Promise<void> = Promise.resolve();
  private sentCount = 0;

  constructor(private readonly options: FleetOptions) {
    this.client = new NativeClient({
      host: '127.0.0.1',
      port: options.port,
      keyId: options.keyId,
      secret: options.secret,
      reconnect: { initialMs: 50, maxMs: 500 },
    });
  }

  /** Readings accepted by the client so far (all of them are acknowledged after `stop()`). */
  get sent(): number {
    return this.sentCount;
  }

  /** The seq the next reading of every device would get (devices advance together). */
  get nextSeq(): number {
    return Math.max(this.options.firstSeq ?? 0, ...this.seqs.values());
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      // One tick at a time: a slow tick is not overlapped by the next.
      this.sending = this.sending.then(() => this.tick());
    }, this.options.tickMs);
  }

  /** Stops sending and waits (bounded) until the hub acknowledged every reading sent. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sending;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`readings not acknowledged in time: ${JSON.stringify(this.client.stats())}`)),
        FLUSH_TIMEOUT_MS,
      );
    });
    try {
      await Promise.race([this.client.flush(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Drops the connection; for cleanup and before the hub is taken away. */
  destroy(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.client.destroy();
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    for (const [index, device] of this.options.devices.entries()) {
      const seq = this.seqs.get(device) ?? this.options.firstSeq ?? 0;
      await this.client.send({ device, seq, ts: now, data: { temp: 20 + (seq % 10) / 2, device_no: index } });
      this.seqs.set(device, seq + 1);
      this.sentCount += 1;
    }
  }
}
