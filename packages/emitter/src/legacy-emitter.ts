/**
 * The seed "encrypted-timeseries" emitter, byte-compatible: connect, `AUTH:<token>\n`, wait for
 * `AUTH_OK\n`, then one `DATA:` line of 49–499 `ivhex:cthex` tokens every interval. Reconnects with
 * backoff. The seed protocol has no acknowledgements, so a burst written to a dying connection is lost —
 * exactly as with the original; the native protocol exists for delivery guarantees.
 */
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import {
  encodeLegacyAuthLine,
  encodeLegacyDataLine,
  LEGACY_AUTH_OK,
  legacyKey,
  sealLegacyToken,
  type LegacyHashVariant,
  type LegacyMessage,
} from '@sealstream/protocol';
import { Backoff } from './backoff.js';
import { LEGACY_CITIES, LEGACY_NAMES } from './legacy-names.js';

export interface LegacyEmitterOptions {
  readonly host: string;
  readonly port: number;
  readonly encryptionKey: string;
  readonly authToken: string;
  readonly intervalMs?: number;
  readonly minMessages?: number;
  readonly maxMessages?: number;
  readonly variant?: LegacyHashVariant;
  /** Fraction of tokens deliberately corrupted (0..1), to show refusals in demos. */
  readonly tamperFraction?: number;
  readonly onEvent?: (event: string) => void;
}

export interface LegacyEmitterStats {
  readonly bursts: number;
  readonly messages: number;
  readonly tampered: number;
  readonly connected: boolean;
}

export class LegacyEmitter {
  private readonly key: Buffer;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  private socket: Socket | undefined;
  private authenticated = false;
  private stopped = true;
  private burstTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private authWaiters: Array<(ok: boolean) => void> = [];
  private counters = { bursts: 0, messages: 0, tampered: 0 };

  constructor(private readonly options: LegacyEmitterOptions) {
    this.key = legacyKey(options.encryptionKey);
    const min = options.minMessages ?? 49;
    const max = options.maxMessages ?? 499;
    if (!(min >= 1 && max >= min)) throw new Error('minMessages must be >= 1 and <= maxMessages');
  }

  /** Connects and emits a burst every interval until stop(). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
    this.burstTimer = setInterval(() => {
      if (!this.authenticated) return;
      const count = randomInt(this.options.minMessages ?? 49, (this.options.maxMessages ?? 499) + 1);
      void this.sendBurst(count);
    }, this.options.intervalMs ?? 10_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.burstTimer);
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000).unref();
    });
  }

  /** Waits until authenticated (connecting if needed), writes one DATA line of `count` tokens, returns the count. */
  async sendBurst(count: number): Promise<number> {
    if (this.socket === undefined && this.stopped) {
      this.stopped = false;
      this.connect();
    }
    if (!this.authenticated && !(await new Promise<boolean>((resolve) => this.authWaiters.push(resolve)))) {
      throw new Error('AUTH failed');
    }
    const tokens: string[] = [];
    const tamperFraction = this.options.tamperFraction ?? 0;
    for (let i = 0; i < count; i += 1) {
      let token = sealLegacyToken(randomMessage(), this.key, { variant: this.options.variant ?? 'sorted' });
      if (tamperFraction > 0 && Math.random() < tamperFraction) {
        token = corrupt(token);
        this.counters.tampered += 1;
      }
      tokens.push(token);
    }
    this.socket?.write(encodeLegacyDataLine(tokens));
    this.counters.bursts += 1;
    this.counters.messages += count;
    return count;
  }

  stats(): LegacyEmitterStats {
    return { ...this.counters, connected: this.authenticated };
  }

  private connect(): void {
    const socket = connect({ host: this.options.host, port: this.options.port });
    this.socket = socket;
    let received = '';
    socket.once('connect', () => socket.write(encodeLegacyAuthLine(this.options.authToken)));
    socket.on('data', (chunk: Buffer) => {
      if (this.authenticated) return;
      received += chunk.toString('latin1');
      if (!received.includes('\n')) return;
      const ok = received.startsWith(LEGACY_AUTH_OK);
      this.authenticated = ok;
      this.options.onEvent?.(ok ? 'authenticated' : 'AUTH_FAIL');
      if (ok) this.backoff.reset();
      for (const waiter of this.authWaiters.splice(0)) waiter(ok);
      if (!ok) {
        // A wrong token will not become right by retrying quickly.
        this.stopped = true;
        clearInterval(this.burstTimer);
        socket.destroy();
      }
    });
    socket.on('error', (error) => this.options.onEvent?.(`socket error: ${error.message}`));
    socket.on('close', () => {
      this.authenticated = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.stopped) {
        for (const waiter of this.authWaiters.splice(0)) waiter(false);
        return;
      }
      this.reconnectTimer = setTimeout(() => this.connect(), this.backoff.next());
    });
  }
}

function randomMessage(): LegacyMessage {
  return {
    name: pick(LEGACY_NAMES),
    origin: pick(LEGACY_CITIES),
    destination: pick(LEGACY_CITIES),
  };
}

function pick<T>(values: readonly T[]): T {
  const value = values[randomInt(values.length)];
  if (value === undefined) throw new Error('empty value pool');
  return value;
}

/** Flips one hex digit of the ciphertext part, as a man in the middle would. */
function corrupt(token: string): string {
  const at = 33 + randomInt(Math.max(1, token.length - 33));
  const digit = token[at] ?? '0';
  const flipped = (parseInt(digit, 16) ^ (1 + randomInt(15))).toString(16);
  return token.slice(0, at) + flipped + token.slice(at + 1);
}
