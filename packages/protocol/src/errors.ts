/**
 * The one base class of every error Sealstream throws on purpose. Callers branch on `code` (a stable
 * name from a catalogue: the reason codes here, the store's and the API's in the hub), never on the
 * message, and on `retryable`: whether the same operation, tried again soon and unchanged, can succeed.
 * Each layer subclasses it with its own catalogue; an edge (the HTTP error handler, the committer) maps
 * codes once, in one table. Rejections of input stay values (see reasons.ts); these are for failures
 * that cannot be returned.
 */
import { REASONS, type ReasonCode } from './reasons.js';

export class SealstreamError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SealstreamError';
  }
}

export function isSealstreamError(error: unknown): error is SealstreamError {
  return error instanceof SealstreamError;
}

/** Thrown only at API edges where a value cannot be returned (e.g. encoding invalid input we built ourselves). */
export class ProtocolError extends SealstreamError {
  declare readonly code: ReasonCode;

  constructor(
    readonly reason: ReasonCode,
    detail: string,
  ) {
    super(reason, `${reason}: ${detail}`, REASONS[reason].retryable);
    this.name = 'ProtocolError';
  }
}
