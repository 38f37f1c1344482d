/** GET /api/v1/dead-letters: refused input, newest first, with a hex preview of its bytes. */
import { Type, type Static } from '@sinclair/typebox';
import { stringEnum } from './string-enum.js';

/** Bytes of the refused input shown in `rawHex`. */
export const DEAD_LETTER_PREVIEW_BYTES = 256;

export const RedriveOutcome = stringEnum(['accepted', 'duplicate', 'refused'] as const);
export type RedriveOutcome = Static<typeof RedriveOutcome>;

export const DeadLetterItem = Type.Object(
  {
    id: Type.String(),
    reason: Type.String({ description: 'reason code, see docs/errors.md' }),
    source: Type.String({ description: 'tcp, legacy, http, mqtt or amqp' }),
    peer: Type.String(),
    device: Type.Union([Type.String(), Type.Null()]),
    detail: Type.String(),
    receivedAt: Type.Number(),
    rawHex: Type.String({ description: `the first ${DEAD_LETTER_PREVIEW_BYTES} stored bytes, hex` }),
    truncated: Type.Boolean({ description: 'true when rawHex is not the whole input' }),
    redrivenAt: Type.Union([Type.Number(), Type.Null()], { description: 'when an operator last re-drove it' }),
    redriveOutcome: Type.Union([RedriveOutcome, Type.Null()]),
  },
  { $id: 'DeadLetter' },
);
export type DeadLetterItem = Static<typeof DeadLetterItem>;
