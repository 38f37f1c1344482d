/**
 * POST /api/v1/ingest/frames: sealed frames over HTTP. The body is one or more complete length-prefixed
 * frames, byte for byte what a device writes on TCP; each frame authenticates itself, so there is no
 * bearer. Every DATA frame goes through the same frame session as on TCP and the answer (200) lists one
 * outcome per frame, only after everything acknowledged is committed. A body that does not frame is
 * refused whole (400) and nothing in it is processed.
 */
import { FrameDecoder, FrameType, REASONS, type DecodeItem, type ReasonCode } from '@sealstream/protocol';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FrameSession } from '../session/frame-session.js';
import { withErrorResponses } from '../../http/api-schemas.js';
import type { IngestContext } from './ingest-context.js';
import { sendRateLimited, setLimitHeaders } from './ingest-rate-limiter.js';
import {
  acceptAll,
  bodyBytes,
  HUB_BUSY_REASONS,
  ingestGate,
  peerOf,
  refuseRequest,
  sendHubBusy,
} from './ingest-replies.js';

export const FRAMES_ROUTE = '/api/v1/ingest/frames';

/**
 * Frame refusals that say nothing about who sent the frame: they are not charged to the key's rate-limit
 * budget. Most did not authenticate, so a forger naming a key cannot spend it; a replayed frame did, but
 * anyone who captured it can post it again, so charging it would let an eavesdropper spend the real
 * device's budget with one captured frame.
 */
const UNCHARGED_REASONS: ReadonlySet<ReasonCode> = new Set([
  'unknown_key',
  'revoked_key',
  'unknown_suite',
  'integrity_failed',
  'stale_frame',
  'malformed_frame',
  'replayed_frame',
]);

const FrameOutcome = Type.Object(
  {
    outcome: Type.Union([Type.Literal('ack'), Type.Literal('error')]),
    frameId: Type.Optional(Type.Integer({ description: 'the frameId of a DATA frame, echoed' })),
    accepted: Type.Optional(Type.Integer()),
    duplicates: Type.Optional(Type.Integer()),
    rejected: Type.Optional(Type.Integer()),
    reason: Type.Optional(Type.String({ description: 'reason code (docs/errors.md) of an error outcome' })),
    detail: Type.Optional(Type.String()),
    retryable: Type.Optional(Type.Boolean({ description: 're-seal and resend this frame later' })),
  },
  { description: 'One frame of the body, in body order: ack (with counts) or error (with a reason code).' },
);

const FramesAnswer = Type.Object({
  frames: Type.Array(FrameOutcome),
  accepted: Type.Integer({ description: 'readings newly stored, over all frames' }),
  duplicates: Type.Integer({ description: 'readings already stored before (resends), over all frames' }),
  rejected: Type.Integer({ description: 'readings refused inside acknowledged frames' }),
});

type Outcome = {
  outcome: 'ack' | 'error';
  frameId?: number;
  accepted?: number;
  duplicates?: number;
  rejected?: number;
  reason?: ReasonCode;
  detail?: string;
  retryable?: boolean;
};

export function registerFramesRoute(app: FastifyInstance, context: IngestContext): void {
  app.post(
    FRAMES_ROUTE,
    {
      bodyLimit: context.bodyLimitBytes,
      // The API's per-address limit would throttle a gateway; ingest has its own per-key limit.
      config: { rateLimit: false },
      onRequest: ingestGate(context.pipeline, 'application/octet-stream'),
      // The body is bytes checked by the frame decoder, not by a JSON schema (the schema documents it).
      validatorCompiler: acceptAll,
      schema: {
        tags: ['ingest'],
        summary: 'Sealed frames over HTTP: the body is one or more length-prefixed frames, exactly as on TCP',
        description:
          'Content-Type: application/octet-stream. Frames authenticate themselves (no bearer). 200 lists one ' +
          'outcome per frame after commit; 400 when the body does not frame (reason in details.reason); ' +
          '429 per key id; 503 with Retry-After when the hub is busy. See docs/api-ingest.md.',
        consumes: ['application/octet-stream'],
        body: Type.Unsafe<Buffer>({ type: 'string', format: 'binary', description: 'length-prefixed frames' }),
        response: withErrorResponses({ 200: FramesAnswer }),
      },
    },
    (request, reply) => handleFrames(context, request, reply),
  );
}

async function handleFrames(context: IngestContext, request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const { pipeline } = context;
  const body = bodyBytes(request);
  if (body.length === 0) {
    return refuseRequest(pipeline, request, reply, {
      reason: 'malformed_body',
      detail: 'the body holds no frames',
      device: null,
    });
  }
  const decoder = new FrameDecoder({ maxFrameBytes: context.maxFrameBytes });
  // The body buffer is ours alone, so the decoder may hand out views into it.
  const items: DecodeItem[] = [...decoder.push(body), ...decoder.end()];
  const fatal = items.find((item) => !item.ok && item.fatal);
  if (fatal !== undefined && !fatal.ok) {
    return refuseRequest(pipeline, request, reply, { reason: fatal.reason, detail: fatal.detail, device: null });
  }
  // A body of tiny frames would otherwise cost one refusal, dead letter and outcome each (amplification).
  if (items.length > context.maxFramesPerRequest) {
    return refuseRequest(pipeline, request, reply, {
      reason: 'malformed_body',
      detail: `more than ${context.maxFramesPerRequest} frames in one body`,
      device: null,
    });
  }

  const limiter = context.limiter;
  if (limiter !== null) {
    for (const keyId of keyIdsOf(items)) {
      const state = await limiter.peek(`key:${keyId}`);
      if (!state.allowed) return sendRateLimited(reply, 'ingest-key', state, limiter.windowMs);
    }
  }

  // One body is one sender: its frames share a session (data only; frameId 0 is allowed over HTTP).
  const session = new FrameSession({
    pipeline,
    logger: request.log,
    source: 'http',
    peer: peerOf(request),
    control: 'data-only',
    reserveFrameIdZero: false,
    refusalBudget: null,
    transportName: 'over HTTP',
  });
  const charged = new Set<string>();
  const outcomes = await Promise.all(items.map((item) => outcomeOf(session, item, charged)));
  // One request spends one unit of each key whose frames in it were its sender's own work (acknowledged,
  // or refused for a reason other than UNCHARGED_REASONS), whatever became of them.
  for (const keyId of charged) limiter?.charge(`key:${keyId}`, 1);

  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;
  let dataFrames = 0;
  let busy = 0;
  let busyReason: ReasonCode = 'overloaded';
  for (const outcome of outcomes) {
    accepted += outcome.accepted ?? 0;
    duplicates += outcome.duplicates ?? 0;
    rejected += outcome.rejected ?? 0;
    if (outcome.frameId === undefined) continue;
    dataFrames += 1;
    if (outcome.reason !== undefined && HUB_BUSY_REASONS.has(outcome.reason)) {
      busy += 1;
      busyReason = outcome.reason;
    }
  }
  if (dataFrames > 0 && busy === dataFrames) {
    // Nothing was taken: the whole body may be re-sealed and sent again later.
    return sendHubBusy(reply, busyReason, 'no frame of this body was taken', { frames: outcomes });
  }
  if (limiter !== null) {
    for (const keyId of charged) setLimitHeaders(reply, await limiter.peek(`key:${keyId}`));
  }
  return reply.code(200).send({ frames: outcomes, accepted, duplicates, rejected });
}

async function outcomeOf(session: FrameSession, item: DecodeItem, charged: Set<string>): Promise<Outcome> {
  const step = session.handle(item);
  const answer = step.kind === 'pending' ? await step.answer : step.answer;
  if (answer.kind === 'ack') {
    charged.add(answer.keyId);
    return {
      outcome: 'ack',
      frameId: answer.frameId,
      accepted: answer.accepted,
      duplicates: answer.duplicates,
      rejected: answer.rejected,
    };
  }
  if (answer.kind !== 'error') return errorOutcome('internal_error', 'no answer for this frame');
  if (!answer.data) return errorOutcome(answer.reason, answer.detail);
  if (answer.keyId !== null && !UNCHARGED_REASONS.has(answer.reason)) charged.add(answer.keyId);
  return { ...errorOutcome(answer.reason, answer.detail), frameId: answer.frameId };
}

function keyIdsOf(items: readonly DecodeItem[]): Set<string> {
  const keyIds = new Set<string>();
  for (const item of items) if (item.ok && item.frame.type === FrameType.Data) keyIds.add(item.frame.keyId);
  return keyIds;
}

function errorOutcome(reason: ReasonCode, detail: string): Outcome {
  return { outcome: 'error', reason, detail, retryable: REASONS[reason].retryable };
}
