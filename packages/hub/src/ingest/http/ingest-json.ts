/**
 * What the two JSON ingest routes share: reading the raw body as JSON (the raw bytes are kept for
 * signatures and dead letters, so Fastify's JSON parser is not used), and turning the pipeline's answer
 * into the HTTP answer: 2xx with counts after commit, 503 + Retry-After when the hub is busy.
 */
import { isUtf8 } from 'node:buffer';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import type { FrameAnswer } from '../../pipeline/pipeline.js';
import { sendRefusal } from './ingest-replies.js';

export const IngestAnswer = Type.Object(
  {
    accepted: Type.Integer({ description: 'readings newly stored' }),
    duplicates: Type.Integer({ description: 'readings stored before (a resend); harmless' }),
    rejected: Type.Integer({ description: 'readings refused one by one (schema, time range); see dead letters' }),
  },
  { description: 'Sent only after the accepted readings are committed.' },
);

export function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  // Invalid UTF-8 would decode to U+FFFD: text the device never sent, stored as if it had.
  if (body.length === 0 || !isUtf8(body)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The pipeline's answer: the per-reading counts, or a refusal of the whole request (already counted). */
export function sendReadingsAnswer(reply: FastifyReply, answer: FrameAnswer, okStatus: 200 | 202): FastifyReply {
  if (answer.kind === 'error') return sendRefusal(reply, answer.reason, answer.detail);
  return reply
    .code(okStatus)
    .send({ accepted: answer.accepted, duplicates: answer.duplicates, rejected: answer.rejected });
}
