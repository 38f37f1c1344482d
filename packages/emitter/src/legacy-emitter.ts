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
  /** Stop emitting after this many interval bursts (default: until stop()). See finished(). */
  readonly maxBursts?: number;
  readonly onEvent?: (event: string) => void;
}

export interface LegacyEmitterStats {
  readonly bursts: number;
  readonly messages: number;
  readonly tampered: number;
  readonly connected: boolean;
  /** The listener answered AUTH_FAIL; the emitter gave up rather than retry a wrong token. */
  readonly authFailed: boolean;
}

type AuthOutcome = 'ok' | 'failed' | 'stopped';

export class LegacyEmitter {
  private readonly key: Buffer;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  private socket: Socket | undefined;
  private authenticated = false;
  private stopped = true;
  private burstTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private authWaiters: Array<(outcome: AuthOutcome) => void> = [];
  private counters = { bursts: 0, messages: 0, tampered: 0 };
  private burstInFlight = false;
  private authFailed = false;
  private intervalBursts = 0;
  private resolveFinished: () => void = () => undefined;
  private readonly finishedPromise = new Promise<void>((resolve) => {
    this.resolveFinished = resolve;
  });

  private readonly minMessages: number;
  private readonly maxMessages: number;

  constructor(private readonly options: LegacyEmitterOptions) {
    this.key = legacyKey(options.encryptionKey);
    this.minMessages = options.minMessages ?? 49;
    this.maxMessages = options.maxMessages ?? 499;
    if (!(Number.isInteger(this.minMessages) && this.minMessages >= 1 && this.maxMessages >= this.minMessages)) {
      throw new Error('minMessages must be an integer >= 1 and <= maxMessages');
    }
    const tamper = options.tamperFraction ?? 0;
    if (!(tamper >= 0 && tamper <= 1)) throw new Error('tamperFraction must be in [0, 1]');
  }

  /** Connects and emits a burst every interval until stop(). */
  start(): void {
    if (this.burstTimer !== undefined) return;
    this.stopped = false;
    if (this.socket === undefined) {
      clearTimeout(this.reconnectTimer);
      this.connect();
    }
    this.burstTimer = setInterval(() => this.onInterval(), this.options.intervalMs ?? 10_000);
  }

  /**
   * Resolves when the emitter will emit nothing more on its own: `maxBursts` interval bursts were written,
   * or the listener refused the token (see stats().authFailed). Never resolves otherwise; stop() ends it.
   */
  finished(): Promise<void> {
    return this.finishedPromise;
  }

  private onInterval(): void {
    // One burst at a time: a slow socket must not stack bursts up behind each other.
    if (!this.authenticated || this.burstInFlight) return;
    const maxBursts = this.options.maxBursts;
    if (maxBursts !== undefined && this.intervalBursts >= maxBursts) return;
    this.burstInFlight = true;
    this.sendBurst()
      .then(() => {
        this.intervalBursts += 1;
        if (maxBursts !== undefined && this.intervalBursts >= maxBursts) {
          clearInterval(this.burstTimer);
          this.resolveFinished();
        }
      })
      .catch((error: unknown) => this.options.onEvent?.(`burst failed: ${(error as Error).message}`))
      .finally(() => {
        this.burstInFlight = false;
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.burstTimer);
    this.burstTimer = undefined;
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    if (socket === undefined) return;
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.end();
      for (const waiter of this.authWaiters.splice(0)) waiter('stopped');
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000).unref();
    });
  }

  /**
   * Waits until authenticated (connecting if needed), writes one DATA line of `count` tokens (default: a
   * random count in [minMessages, maxMessages]) and resolves with the count once the line is written.
   * Rejects when the listener answers AUTH_FAIL or the emitter is stopped first.
   */
  async sendBurst(count = randomInt(this.minMessages, this.maxMessages + 1)): Promise<number> {
    if (!Number.isInteger(count) || count < 1) throw new Error('count must be an integer >= 1');
    if (this.socket === undefined && this.stopped) {
      this.stopped = false;
      this.connect();
    }
    if (!this.authenticated) {
      const outcome = await new Promise<AuthOutcome>((resolve) => this.authWaiters.push(resolve));
      if (outcome === 'failed') throw new Error('AUTH failed');
      if (outcome === 'stopped') throw new Error('emitter stopped');
    }
    const socket = this.socket;
    if (socket === undefined) throw new Error('not connected');
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
    await new Promise<void>((resolve, reject) =>
      socket.write(encodeLegacyDataLine(tokens), (error) => (error ? reject(error) : resolve())),
    );
    this.counters.bursts += 1;
    this.counters.messages += count;
    return count;
  }

  stats(): LegacyEmitterStats {
    return { ...this.counters, connected: this.authenticated, authFailed: this.authFailed };
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
      for (const waiter of this.authWaiters.splice(0)) waiter(ok ? 'ok' : 'failed');
      if (!ok) {
        // A wrong token will not become right by retrying quickly.
        this.stopped = true;
        this.authFailed = true;
        clearInterval(this.burstTimer);
        this.burstTimer = undefined;
        socket.destroy();
        this.resolveFinished();
      }
    });
    socket.on('error', (error) => this.options.onEvent?.(`socket error: ${error.message}`));
    socket.on('close', () => {
      this.authenticated = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.stopped) {
        for (const waiter of this.authWaiters.splice(0)) waiter('stopped');
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
