/**
 * One way in: the transport-neutral handling of decoded native frames, shared by every door that carries
 * them (TCP, HTTP bodies, MQTT messages). A session takes one decoded item at a time and gives back its
 * answer: DATA frames go through the pipeline (open, check, commit) and are answered ACK or a typed ERROR
 * only after commit; refusals (undecodable bodies, frame types the transport does not take, frameId 0
 * where it is reserved) are counted and dead-lettered here; a defect while handling a frame becomes an
 * `internal_error` answer, never an unhandled rejection; the sender's refusal budget is kept here.
 *
 * A transport only moves bytes: it decodes, feeds items in order, writes or maps the answers, and decides
 * what ends its stream (a fatal decode, a spent budget, a CLOSE).
 */
import {
  encodeAck,
  encodeError,
  encodePong,
  FrameType,
  REASONS,
  type DataFrame,
  type DecodeItem,
  type ReasonCode,
} from '@sealstream/protocol';
import type { RepeatedIvPolicy } from '../../pipeline/frame-opener.js';
import type { FrameAnswer, Pipeline } from '../../pipeline/pipeline.js';
import type { SourceKind } from '../../pipeline/ports.js';
import { RefusalBudget, type RefusalBudgetLimits } from '../refusal-budget.js';

/** The answer to one item; `frameId` 0 is an answer about the stream, not about one frame. */
export type SessionAnswer =
  | {
      readonly kind: 'ack';
      readonly frameId: number;
      readonly keyId: string;
      readonly accepted: number;
      readonly duplicates: number;
      readonly rejected: number;
    }
  | {
      readonly kind: 'error';
      readonly frameId: number;
      /** The key id a DATA frame named (null for anything that did not decode as DATA). */
      readonly keyId: string | null;
      /** True for a DATA frame's answer (its frameId is echoed). */
      readonly data: boolean;
      readonly reason: ReasonCode;
      readonly detail: string;
    }
  | { readonly kind: 'pong'; readonly nonce: bigint }
  | { readonly kind: 'close' }
  | { readonly kind: 'none' };

/** What a handled item gives: its answer now, or (a DATA frame) a promise of it that never rejects. */
export type SessionStep =
  | { readonly kind: 'now'; readonly answer: SessionAnswer }
  | { readonly kind: 'pending'; readonly frame: DataFrame; readonly answer: Promise<SessionAnswer> };

export interface FrameSessionOptions {
  readonly pipeline: Pipeline;
  /** Where a defect while handling a frame is reported (pino, or a request's logger). */
  readonly logger: { error(details: object, message: string): void };
  readonly source: SourceKind;
  /** Who sent the frames, for dead letters and the dead-letter budget's fair share. */
  readonly peer: string;
  /**
   * 'stream': PING, PONG and CLOSE are part of the conversation (TCP). 'data-only': every frame must be
   * DATA (HTTP bodies, MQTT messages); anything else is refused `unknown_frame_type`.
   */
  readonly control: 'stream' | 'data-only';
  /** Refuse DATA frames numbered 0 (where 0 names the stream in ERROR answers). */
  readonly reserveFrameIdZero: boolean;
  /** Refusals this sender may make before the transport must end it; null: no budget. */
  readonly refusalBudget: RefusalBudgetLimits | null;
  /** Names the transport in refusal details, e.g. 'over HTTP'. */
  readonly transportName: string;
  /**
   * A DATA frame whose key id and IV were seen before: refused `replayed_frame` (default), or, where the
   * transport redelivers by design (MQTT), answered by its readings (frame-opener.ts).
   */
  readonly repeatedIv?: RepeatedIvPolicy;
}

export class FrameSession {
  private readonly budget: RefusalBudget | null;
  /** Items handled so far: the index of the next one. */
  private handled = 0;
  /** Index of the item whose refusal spent the budget; null while it lasts. */
  private spentAt: number | null = null;

  constructor(private readonly options: FrameSessionOptions) {
    this.budget = options.refusalBudget === null ? null : new RefusalBudget(options.refusalBudget);
  }

  get peer(): string {
    return this.options.peer;
  }

  /**
   * True once the sender has spent its refusal budget: the transport ends the stream with
   * `too_many_refusals` (see `budgetDetail`). Checked after writing each answer.
   */
  get budgetSpent(): boolean {
    return this.spentAt !== null;
  }

  budgetDetail(): string {
    return this.budget?.describe() ?? '';
  }

  /** Handles one decoded item. A fatal item is the transport's to report (see `refuseStream`). */
  handle(item: DecodeItem): SessionStep {
    if (!item.ok) {
      this.refuse(item.reason, item.detail, item.raw);
      this.spend(item.reason, this.handled++);
      return now(errorAnswer(0, null, false, item.reason, item.detail));
    }
    const frame = item.frame;
    if (frame.type === FrameType.Data) {
      if (this.options.reserveFrameIdZero && frame.frameId === 0) {
        const detail = 'frameId 0 is reserved for answers about the connection; number DATA frames from 1';
        this.refuse('malformed_frame', detail, frame.raw);
        this.spend('malformed_frame', this.handled++);
        return now(errorAnswer(0, null, false, 'malformed_frame', detail));
      }
      return this.handleData(frame, this.handled++);
    }
    if (this.options.control === 'stream') {
      switch (frame.type) {
        case FrameType.Ping:
          return now({ kind: 'pong', nonce: frame.nonce });
        case FrameType.Pong:
          return now({ kind: 'none' });
        case FrameType.Close:
          return now({ kind: 'close' });
        default:
          break;
      }
    }
    // ACK and ERROR flow hub -> device only; control frames only where the transport is a stream.
    const detail =
      this.options.control === 'stream'
        ? `frame type ${frame.type} is not accepted from devices`
        : `frame type ${frame.type} is not accepted ${this.options.transportName} (only DATA)`;
    this.refuse('unknown_frame_type', detail, new Uint8Array(0));
    this.spend('unknown_frame_type', this.handled++);
    return now(errorAnswer(0, null, false, 'unknown_frame_type', detail));
  }

  /**
   * The stream itself broke (a fatal decode, a stall, a spent budget): counted and dead-lettered; the
   * answer is the ERROR the transport sends before it ends the stream.
   */
  refuseStream(reason: ReasonCode, detail: string, raw: Uint8Array): SessionAnswer {
    this.refuse(reason, detail, raw);
    return errorAnswer(0, null, false, reason, detail);
  }

  /**
   * A frame refused while opening is answered now, so its refusal is spent before the transport hands
   * over the next frame; one that opens is answered when committed.
   */
  private handleData(frame: DataFrame, index: number): SessionStep {
    let taken: FrameAnswer | Promise<FrameAnswer>;
    try {
      taken = this.options.pipeline.takeDataFrame(
        frame,
        this.options.source,
        this.options.peer,
        this.options.repeatedIv ?? 'refuse',
      );
    } catch (error) {
      return now(this.defect(frame, error));
    }
    if (!(taken instanceof Promise)) return now(this.settle(frame, index, taken));
    const answer = taken.then(
      (settled) => this.settle(frame, index, settled),
      (error: unknown) => this.defect(frame, error),
    );
    return { kind: 'pending', frame, answer };
  }

  /** The answer to the DATA frame handled `index`th; 'none' when it came after the budget was spent. */
  private settle(frame: DataFrame, index: number, answer: FrameAnswer): SessionAnswer {
    // Decoded after the frame that spent the budget but already in the pipeline (a refusal decided
    // later, by the shared replay window): its stream is ending, so it is not answered; the device
    // resends it elsewhere, and (device, seq) makes that harmless if it was committed after all.
    if (this.spentAt !== null && index > this.spentAt) return { kind: 'none' };
    try {
      if (answer.kind === 'ack') {
        this.budget?.noteAuthentic();
        return {
          kind: 'ack',
          frameId: frame.frameId,
          keyId: frame.keyId,
          accepted: answer.accepted,
          duplicates: answer.duplicates,
          rejected: answer.rejected,
        };
      }
      // The hub's own trouble (overload, store outage, shutdown) is not the sender's refusal.
      if (REASONS[answer.reason].scope !== 'hub') this.spend(answer.reason, index);
      return errorAnswer(frame.frameId, frame.keyId, true, answer.reason, answer.detail);
    } catch (error) {
      return this.defect(frame, error);
    }
  }

  /** A defect: answered internal_error and kept as a dead letter; the stream and the hub go on. */
  private defect(frame: DataFrame, error: unknown): SessionAnswer {
    this.options.logger.error(
      { err: error, peer: this.options.peer },
      'handling a frame failed; answered internal_error',
    );
    const detail = 'the hub failed while handling this frame';
    this.refuse('internal_error', detail, frame.raw);
    return errorAnswer(frame.frameId, frame.keyId, true, 'internal_error', detail);
  }

  private refuse(reason: ReasonCode, detail: string, raw: Uint8Array): void {
    const { pipeline, source, peer } = this.options;
    pipeline.refuse({ reason, source, peer, device: null, detail, raw });
  }

  /** One more refused frame (the `index`th handled); marks the budget spent when it is over. */
  private spend(reason: ReasonCode, index: number): void {
    if (REASONS[reason].scope === 'hub' || this.budget === null) return;
    if (!this.budget.spend() && this.spentAt === null) this.spentAt = index;
  }
}

function now(answer: SessionAnswer): SessionStep {
  return { kind: 'now', answer };
}

function errorAnswer(
  frameId: number,
  keyId: string | null,
  data: boolean,
  reason: ReasonCode,
  detail: string,
): SessionAnswer {
  return { kind: 'error', frameId, keyId, data, reason, detail };
}

/** The native frame carrying `answer` (ACK, ERROR or PONG), or null when it needs none. */
export function encodeAnswer(answer: SessionAnswer): Buffer | null {
  switch (answer.kind) {
    case 'ack':
      return encodeAck({
        frameId: answer.frameId,
        accepted: answer.accepted,
        duplicates: answer.duplicates,
        rejected: answer.rejected,
      });
    case 'error':
      return encodeError(answer.frameId, answer.reason, answer.detail);
    case 'pong':
      return encodePong(answer.nonce);
    default:
      return null;
  }
}
