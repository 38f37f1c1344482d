/**
 * Operator actions on one dead letter: download its stored bytes whole, and re-drive it through the
 * pipeline once its cause is fixed. A re-drive is recorded on the letter (when, and what happened);
 * one that is refused again leaves the letter where it was and makes no new one. One re-drive of a
 * letter runs at a time: a claim in the store refuses a concurrent one (409 redrive_in_progress).
 */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import type { RedriveAnswer } from '../pipeline/pipeline.js';
import type { DeadLetterRow } from '../pipeline/ports.js';
import { ApiError } from './api-errors.js';
import { BEARER_SECURITY, stringEnum, withErrorResponses } from './api-schemas.js';

export interface RedriveDeps {
  findDeadLetter(id: string): Promise<DeadLetterRow | undefined>;
  /** False while another re-drive of the letter holds it (this hub or another on the same store). */
  claimRedrive(id: string, at: number, leaseMs: number): Promise<boolean>;
  releaseRedrive(id: string): Promise<void>;
  /** Records the outcome and gives back the claim. */
  markRedriven(id: string, outcome: 'accepted' | 'duplicate' | 'refused', at: number): Promise<void>;
  redrive(letter: DeadLetterRow): Promise<RedriveAnswer>;
  readonly now?: () => number;
}

const IdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,18}$' }) });
/** A store outage or a full queue: the operator retries in a moment. */
const RETRY_AFTER_SECONDS = 5;
/**
 * How long one re-drive holds its letter: far beyond a commit's wait, so only a hub that died mid-way
 * leaves a claim to lapse.
 */
const REDRIVE_LEASE_MS = 60_000;

export function registerRedriveRoutes(
  app: FastifyInstance,
  deps: RedriveDeps,
  roles: { read: onRequestAsyncHookHandler; manage: onRequestAsyncHookHandler },
): void {
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  const now = deps.now ?? Date.now;

  const find = async (id: string): Promise<DeadLetterRow> => {
    const letter = await deps.findDeadLetter(id);
    if (letter === undefined) throw new ApiError('not_found', `no dead letter ${id}`);
    return letter;
  };

  typed.get(
    '/dead-letters/:id/raw',
    {
      onRequest: roles.read,
      schema: {
        tags: ['dead-letters'],
        summary: 'The stored bytes of one dead letter, whole (application/octet-stream)',
        security: BEARER_SECURITY,
        params: IdParams,
        produces: ['application/octet-stream'],
        response: withErrorResponses({ 200: Type.String({ format: 'binary' }) }),
      },
    },
    async (request, reply) => {
      const letter = await find(request.params.id);
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="dead-letter-${letter.id}.bin"`)
        .header('x-truncated', String(letter.truncated))
        .send(Buffer.from(letter.raw));
    },
  );

  typed.post(
    '/dead-letters/:id/redrive',
    {
      onRequest: roles.manage,
      schema: {
        tags: ['dead-letters'],
        summary: 'Re-drive a dead letter through the pipeline after its cause is fixed (operator)',
        security: BEARER_SECURITY,
        params: IdParams,
        response: withErrorResponses({
          200: Type.Object({
            outcome: stringEnum(['accepted', 'duplicate', 'refused'] as const, {
              description: 'accepted: stored now; duplicate: already stored; refused: failed its checks again',
            }),
            accepted: Type.Integer(),
            duplicates: Type.Integer(),
            rejected: Type.Integer(),
            reason: Type.Optional(Type.String({ description: 'reason code when refused' })),
            detail: Type.Optional(Type.String()),
          }),
        }),
      },
    },
    async (request, reply) => {
      const letter = await find(request.params.id);
      // Two re-drives at once would both report re-driving it (one as a duplicate of the other), count
      // it twice and race to record their outcome: the second is refused until the first has finished.
      if (!(await deps.claimRedrive(letter.id, now(), REDRIVE_LEASE_MS))) {
        throw new ApiError(
          'conflict',
          `dead letter ${letter.id} is being re-driven by another request; its redriveOutcome shows the result`,
          { reason: 'redrive_in_progress' },
        );
      }
      let recorded = false;
      try {
        const answer = await deps.redrive(letter);
        if (answer.outcome === 'not_redrivable') {
          throw new ApiError('conflict', `this dead letter cannot be re-driven: ${answer.detail}`, {
            reason: 'not_redrivable',
          });
        }
        if (answer.outcome === 'unavailable') {
          reply.header('retry-after', String(RETRY_AFTER_SECONDS));
          throw new ApiError(answer.reason === 'overloaded' ? 'overloaded' : 'store_unavailable', answer.detail);
        }
        await deps.markRedriven(letter.id, answer.outcome, now());
        recorded = true;
        return answer;
      } finally {
        // Nothing recorded: free the letter now (if the store cannot, the claim lapses with its lease).
        if (!recorded) {
          await deps.releaseRedrive(letter.id).catch((error: unknown) => {
            request.log.warn({ err: error, deadLetter: letter.id }, 'could not release a re-drive claim');
          });
        }
      }
    },
  );
}
