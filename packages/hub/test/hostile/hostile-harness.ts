/**
 * Shared tools for the hostile-input suites: a device that keeps streaming good readings while an
 * attack runs (and proves afterwards that all of them were acknowledged and stored), metric and
 * dead-letter probes, and a sealer for arbitrary plaintext bytes built from the wire spec, so tests
 * can seal what the protocol's own sealer refuses to produce (malformed JSON, non-arrays, …).
 */
import { createCipheriv, createHmac, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { CipherSuite, type DeviceKey } from '@sealstream/protocol';
import { NativeClient } from '@sealstream/emitter';
import type { DeadLetterRow } from '../../src/pipeline/ports.js';
import { TEST_KEY_ID, TEST_SECRET, type TestHub } from '../support/test-hub.js';

/** Every metric sample of the hub as `name{labels}` -> value. */
export async function metrics(hub: TestHub): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${hub.hub.ports.http}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

export async function rejectedTotal(hub: TestHub, source: string, reason: string): Promise<number> {
  return (await metrics(hub)).get(`sealstream_readings_rejected_total{source="${source}",reason="${reason}"}`) ?? 0;
}

/** Watches one rejection counter: `added()` is how much it grew since `watchRejected` was called. */
export async function watchRejected(
  hub: TestHub,
  source: string,
  reason: string,
): Promise<{ added: () => Promise<number> }> {
  const before = await rejectedTotal(hub, source, reason);
  return { added: async () => (await rejectedTotal(hub, source, reason)) - before };
}

/** Dead letters with this reason received at or after `since`, newest first (dead letters commit asynchronously). */
export async function deadLettersSince(hub: TestHub, reason: string, since: number): Promise<DeadLetterRow[]> {
  const rows = await hub.hub.store.recentDeadLetters(1000);
  return rows.filter((row) => row.reason === reason && row.receivedAt >= since);
}

/** Waits for at least `count` dead letters with `reason` since `since`; returns them. */
export async function expectDeadLetters(
  hub: TestHub,
  reason: string,
  since: number,
  count = 1,
): Promise<DeadLetterRow[]> {
  let rows: DeadLetterRow[] = [];
  await waitUntil(async () => {
    rows = await deadLettersSince(hub, reason, since);
    return rows.length >= count;
  }, `${count} dead letter(s) with reason ${reason}`);
  return rows;
}

/**
 * A well-behaved device streaming readings during an attack. `finish()` stops it, waits for every
 * acknowledgement and checks the store holds each reading exactly once.
 */
export class GoodTraffic {
  private sent = 0;
  private stopped = false;
  private failure: unknown;
  private readonly done: Promise<void>;
  readonly client: NativeClient;

  constructor(
    private readonly hub: TestHub,
    readonly device: string,
    private readonly ratePerSecond = 1000,
    clientOptions: { maxReadingsPerFrame?: number } = {},
  ) {
    this.client = new NativeClient({
      host: '127.0.0.1',
      port: hub.hub.ports.tcp ?? 0,
      keyId: TEST_KEY_ID,
      secret: TEST_SECRET,
      reconnect: { initialMs: 50, maxMs: 300 },
      ...clientOptions,
    });
    this.done = this.produce().catch((error: unknown) => {
      this.failure = error;
    });
  }

  async finish(): Promise<void> {
    this.stopped = true;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
    await Promise.race([
      this.client.flush(),
      new Promise((_, reject) =>
        setTimeout(
          () => reject(new Error(`good traffic not acknowledged: ${JSON.stringify(this.client.stats())}`)),
          15_000,
        ),
      ),
    ]);
    const stats = this.client.stats();
    await this.client.close();
    expect(this.sent).toBeGreaterThan(0);
    expect(stats.rejected).toBe(0);
    expect(stats.acked).toBe(this.sent);
    const rows = await this.hub.hub.store.readings(this.device, 0, Date.now() + 60_000, this.sent + 10);
    expect(rows).toHaveLength(this.sent);
    expect(new Set(rows.map((row) => row.seq)).size).toBe(this.sent);
  }

  /** Stops the device without checks (cleanup after a failed test). */
  destroy(): void {
    this.stopped = true;
    this.client.destroy();
  }

  private async produce(): Promise<void> {
    const started = Date.now();
    while (!this.stopped) {
      const due = Math.floor(((Date.now() - started) * this.ratePerSecond) / 1000);
      while (this.sent < due && !this.stopped) {
        await this.client.send({ device: this.device, seq: this.sent, ts: Date.now(), data: { v: this.sent } });
        this.sent += 1;
      }
      await sleep(10);
    }
  }
}

export interface RawSealOptions {
  readonly suite: 1 | 2;
  readonly keyId: string;
  readonly frameId: number;
  readonly sentAt?: number;
}

/**
 * Seals arbitrary plaintext bytes into a DATA frame exactly as docs/protocol.md §2 describes, without
 * the protocol package's sealer (which only seals arrays of readings). Returns the frame with its prefix.
 */
export function sealPlaintext(plaintext: Buffer, key: DeviceKey, options: RawSealOptions): Buffer {
  const ivBytes = options.suite === CipherSuite.Aes256Gcm ? 12 : 16;
  const iv = randomBytes(ivBytes);
  const keyId = Buffer.from(options.keyId, 'latin1');
  const header = Buffer.alloc(16 + keyId.length + ivBytes);
  header.writeUInt8(1, 0);
  header.writeUInt8(1, 1);
  header.writeUInt8(options.suite, 2);
  header.writeUInt32BE(options.frameId, 3);
  header.writeBigUInt64BE(BigInt(options.sentAt ?? Date.now()), 7);
  header.writeUInt8(keyId.length, 15);
  keyId.copy(header, 16);
  iv.copy(header, 16 + keyId.length);
  let ciphertext: Buffer;
  let tag: Buffer;
  if (options.suite === CipherSuite.Aes256Gcm) {
    const cipher = createCipheriv('aes-256-gcm', key.encKey, iv, { authTagLength: 16 });
    cipher.setAAD(header);
    ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    tag = cipher.getAuthTag();
  } else {
    const cipher = createCipheriv('aes-256-ctr', key.encKey, iv);
    ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    tag = createHmac('sha256', key.macKey).update(header).update(ciphertext).digest();
  }
  const body = Buffer.concat([header, ciphertext, tag]);
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(body.length, 0);
  return Buffer.concat([prefix, body]);
}

/** A deterministic byte generator (xorshift32), so a failing garbage case can be reproduced from its seed. */
export function seededBytes(seed: number, length: number): Buffer {
  let state = seed >>> 0 || 1;
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += 1) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out[i] = state & 0xff;
  }
  return out;
}

export function flipBit(bytes: Buffer, index: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  const at = index < 0 ? copy.length + index : index;
  copy[at] = (copy[at] ?? 0) ^ (1 << bit);
  return copy;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what = 'condition',
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(25);
  }
}
