/**
 * Turns the tokens of one legacy `DATA:` line into verified readings and refusals.
 *
 * Legacy messages carry no device id or sequence number, so the hub assigns them: every legacy message
 * belongs to the configured legacy device, its sequence number is taken from the first 53 bits of its
 * random IV (unique per message with overwhelming probability), and its timestamp is the receive time.
 * A repeated IV is a replay of a captured token and is refused.
 */
import type { LegacyHashVariant, ReasonCode } from '@sealstream/protocol';
import {
  legacyLineOf,
  runLegacyOpenJob,
  seqFromIvWords,
  type LegacyOpenAnswer,
  type LegacyOpenJob,
} from './legacy-open-job.js';
import type { VerifiedReading } from './ports.js';

export { seqFromIvWords } from './legacy-open-job.js';

/** What opens lines off this thread (LegacyOpenPool); answers must come back in call order. */
export interface LegacyLinePool {
  open(job: LegacyOpenJob): Promise<LegacyOpenAnswer>;
}

/** What the opener needs from a replay window (Iv16ReplayWindow in the pipeline). */
export interface LegacyReplayWindow {
  /** Records the IV (four big-endian 32-bit words) and returns true if it is new, false for a replay. */
  firstSightingWords(w0: number, w1: number, w2: number, w3: number): boolean;
  /** Forgets a recorded IV (32 hex characters) whose token was not taken after all. */
  forget(ivHex: string): void;
}

export interface LegacyOpenerOptions {
  readonly key: Buffer;
  readonly device: string;
  readonly acceptVariants: readonly LegacyHashVariant[];
  readonly ivWindow: LegacyReplayWindow;
  readonly now?: () => number;
}

export interface TokenRefusal {
  readonly reason: ReasonCode;
  readonly detail: string;
  readonly raw: Uint8Array;
}

/** The tokens of a line, read from its bytes only when someone asks (a refusal, a forget). */
export class LineTokens {
  constructor(
    private readonly line: Uint8Array,
    private readonly tokenEnds: Uint32Array,
  ) {}

  get count(): number {
    return this.tokenEnds.length;
  }

  /** Token i's bytes, a copy (a dead letter keeps them; the line is not kept alive by them). */
  raw(i: number): Buffer {
    const [start, end] = this.range(i);
    return Buffer.from(this.line.subarray(start, end));
  }

  /** Token i as text, one character per byte (latin1). */
  text(i: number): string {
    const [start, end] = this.range(i);
    return Buffer.from(this.line.buffer, this.line.byteOffset + start, end - start).toString('latin1');
  }

  /** The IV of token i, lower-cased: its first 32 characters (call only for a token that opened). */
  ivHex(i: number): string {
    return this.text(i).slice(0, 32).toLowerCase();
  }

  private range(i: number): readonly [number, number] {
    const start = i === 0 ? 0 : (this.tokenEnds[i - 1] as number) + 1;
    return [start, this.tokenEnds[i] ?? start];
  }
}

export interface LegacyLineOutcome {
  readonly readings: VerifiedReading[];
  /** Parallel to `readings`: the position of each one's token in the line (its raw bytes, if the store refuses it). */
  readonly tokenOf: number[];
  readonly refused: TokenRefusal[];
  readonly tokens: LineTokens;
  /**
   * The strict COPY rows of `readings`, in order (copy-rows.ts), made where the line was opened; absent
   * when they could not be (the store then formats the readings itself).
   */
  readonly copyRows?: Uint8Array;
}

export class LegacyOpener {
  private readonly now: () => number;

  constructor(private readonly options: LegacyOpenerOptions) {
    this.now = options.now ?? Date.now;
  }

  /**
   * Opens a line on this thread. Tokens are byte strings without `|` (see legacyLineOf).
   *
   * `redrive` skips the IV window: an operator re-driving a dead letter, at `receivedAt` = when the
   * letter first arrived. The reading's key is (device, ts, seq) with ts the receive time, so the letter's
   * own time (not now) and the IV-derived seq make a repeated re-drive a duplicate, not a new copy.
   */
  openLine(tokens: readonly string[], mode: 'live' | 'redrive' = 'live', receivedAt = this.now()): LegacyLineOutcome {
    return this.openBytes(legacyLineOf(tokens), mode, receivedAt);
  }

  /** openLine for a line's bytes after `DATA:` (tokens separated by `|`). */
  openBytes(line: Uint8Array, mode: 'live' | 'redrive' = 'live', receivedAt = this.now()): LegacyLineOutcome {
    return this.judgeLine(line, runLegacyOpenJob(this.job(line, receivedAt)), mode, receivedAt);
  }

  /**
   * A live line opened by `pool` (worker threads) instead of on this thread. The pool answers in call
   * order, so lines are judged against the replay window, and stamped, in the order they arrived.
   */
  async openLineWith(pool: LegacyLinePool, tokens: readonly string[] | Uint8Array): Promise<LegacyLineOutcome> {
    const receivedAt = this.now();
    const line = tokens instanceof Uint8Array ? tokens : legacyLineOf(tokens);
    const answer = await pool.open(this.job(line, receivedAt));
    return this.judgeLine(line, answer, 'live', receivedAt);
  }

  /**
   * Forgets the IVs (32 hex characters) of tokens this opener took (live) that were not taken after all
   * (refused state_unavailable, or not committed): their resend is not a replay.
   */
  forgetIvs(ivs: readonly string[]): void {
    for (const iv of ivs) {
      try {
        this.options.ivWindow.forget(iv);
      } catch {
        // not an IV: the token was never recorded
      }
    }
  }

  private job(line: Uint8Array, receivedAt: number): LegacyOpenJob {
    return {
      line,
      key: this.options.key,
      accept: this.options.acceptVariants,
      device: this.options.device,
      receivedAt,
    };
  }

  /**
   * Turns each opened token into a reading or a refusal: the per-token rules that need this thread's
   * state (the replay window), in one place whichever thread opened the line.
   */
  private judgeLine(
    line: Uint8Array,
    answer: LegacyOpenAnswer,
    mode: 'live' | 'redrive',
    receivedAt: number,
  ): LegacyLineOutcome {
    const { fields, ends, opened, ivWords, refusals, rows, rowEnds } = answer;
    const tokens = new LineTokens(line, answer.tokenEnds);
    const readings: VerifiedReading[] = [];
    const tokenOf: number[] = [];
    const refused: TokenRefusal[] = [];
    const device = this.options.device;
    // Rows of tokens refused here (replays) are cut out of `rows`; none, usually.
    let keptRows: Array<readonly [number, number]> | undefined;
    let refusal = 0;
    let start = 0;
    for (let i = 0; i < opened.length; i += 1) {
      if (opened[i] !== 1) {
        const [reason, detail] = refusals[refusal] as readonly [ReasonCode, string];
        refusal += 1;
        refused.push({ reason, detail, raw: tokens.raw(i) });
        continue;
      }
      const nameEnd = ends[3 * i] as number;
      const originEnd = ends[3 * i + 1] as number;
      const end = ends[3 * i + 2] as number;
      const fieldsStart = start;
      start = end;
      // Checked after integrity so a forged token cannot occupy a slot in the window.
      const w0 = ivWords[4 * i] as number;
      const w1 = ivWords[4 * i + 1] as number;
      if (
        mode === 'live' &&
        !this.options.ivWindow.firstSightingWords(w0, w1, ivWords[4 * i + 2] as number, ivWords[4 * i + 3] as number)
      ) {
        refused.push({
          reason: 'legacy_replayed_token',
          detail: 'a token with this IV was already received',
          raw: tokens.raw(i),
        });
        keptRows ??= keptRowsBefore(readings.length, tokenOf, rowEnds);
        continue;
      }
      readings.push({
        device,
        seq: seqFromIvWords(w0, w1),
        ts: receivedAt,
        data: {
          name: fields.slice(fieldsStart, nameEnd),
          origin: fields.slice(nameEnd, originEnd),
          destination: fields.slice(originEnd, end),
        },
        source: 'legacy',
        receivedAt,
      });
      tokenOf.push(i);
      keptRows?.push([i === 0 ? 0 : (rowEnds[i - 1] as number), rowEnds[i] as number]);
    }
    if (rows === null) return { readings, tokenOf, refused, tokens };
    const copyRows = keptRows === undefined ? rows : gather(rows, keptRows);
    return { readings, tokenOf, refused, tokens, copyRows };
  }
}

/** The row ranges of the readings taken so far (tokens tokenOf[0..taken)). */
function keptRowsBefore(
  taken: number,
  tokenOf: readonly number[],
  rowEnds: Uint32Array,
): Array<readonly [number, number]> {
  const ranges: Array<readonly [number, number]> = [];
  for (let r = 0; r < taken; r += 1) {
    const i = tokenOf[r] as number;
    ranges.push([i === 0 ? 0 : (rowEnds[i - 1] as number), rowEnds[i] as number]);
  }
  return ranges;
}

/** The given byte ranges of `rows`, concatenated. */
function gather(rows: Uint8Array, ranges: ReadonlyArray<readonly [number, number]>): Uint8Array {
  let length = 0;
  for (const [from, to] of ranges) length += to - from;
  const out = new Uint8Array(length);
  let at = 0;
  for (const [from, to] of ranges) {
    out.set(rows.subarray(from, to), at);
    at += to - from;
  }
  return out;
}

/** First 53 bits of the IV as a safe integer. */
export function seqFromIv(ivHex: string): number {
  const high = Number.parseInt(ivHex.slice(0, 8), 16); // 32 bits
  const low = Number.parseInt(ivHex.slice(8, 14), 16) >>> 3; // 21 of the next 24 bits
  return high * 2 ** 21 + low;
}
