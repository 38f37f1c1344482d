/**
 * Export downloads by ticket, for browsers: POST /api/v1/exports (a signed-in user, bearer token)
 * answers `{ url, expiresAt }`, and a plain GET of `url` streams the export as an attachment through
 * the same code as GET /api/v1/devices/{device}/export. The GET carries no bearer token (it is a link
 * navigation), so the ticket is the credential: single use, short-lived, bound to the account that
 * asked — which must still exist and be enabled when the download starts, and which is the only
 * account that may redeem it if the request does present a credential. Its URL is redacted from the
 * request log (request-log.ts).
 */
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, onRequestAsyncHookHandler } from 'fastify';
import { ApiError } from './api-errors.js';
import type { AccountStore, QueryStore } from './api-ports.js';
import { API_PREFIX, BEARER_SECURITY, EpochMs, stringEnum, withErrorResponses } from './api-schemas.js';
import { bearerSubject, presentedCredential, type Authorizer } from './auth.js';
import { DeviceId, EXPORT_FORMATS, EXPORT_RESPONSES, sendExport, type ExportFormat } from './export-routes.js';
import { TICKET_PATTERN, type ExportTickets } from './export-tickets.js';
import { parseRange, TimeParam } from './query-params.js';

/** Relative to the API prefix. */
export const EXPORTS_ROUTE = '/exports';
/** Devices one export may name. */
export const MAX_EXPORT_DEVICES = 50;

const Time = Type.Union([Type.Integer({ description: 'ms since the Unix epoch' }), TimeParam]);

const CreateExportBody = Type.Object(
  {
    devices: Type.Array(DeviceId, { minItems: 1, maxItems: MAX_EXPORT_DEVICES, uniqueItems: true }),
    from: Type.Optional(Time),
    to: Type.Optional(Time),
    format: Type.Optional(stringEnum(EXPORT_FORMATS, { description: 'default csv' })),
  },
  { additionalProperties: false },
);

const CreatedExport = Type.Object({
  url: Type.String({ description: 'GET it (no token needed) within the minute; works once' }),
  expiresAt: EpochMs,
});

export interface ExportTicketRouteDeps {
  readonly store: QueryStore;
  readonly accounts: AccountStore;
  readonly auth: Authorizer;
  readonly tickets: ExportTickets;
  readonly now?: () => number;
}

export function registerExportTicketRoutes(app: FastifyInstance, deps: ExportTicketRouteDeps): void {
  const now = deps.now ?? Date.now;
  const typed = app.withTypeProvider<TypeBoxTypeProvider>();
  // API keys are refused: they can stream GET …/export directly, and a key has no account to re-check.
  const signedInViewer: onRequestAsyncHookHandler = deps.auth.require('viewer', { usersOnly: true });

  typed.post(
    EXPORTS_ROUTE,
    {
      onRequest: signedInViewer,
      schema: {
        tags: ['query'],
        summary: 'A single-use download link (valid about a minute) for an export of devices over [from, to)',
        security: [{ bearerAuth: [] }],
        body: CreateExportBody,
        response: withErrorResponses({ 201: CreatedExport }),
      },
    },
    async (request, reply) => {
      const caller = deps.auth.callerOf(request);
      if (caller === undefined) throw new Error('exports: the onRequest hook did not record the caller');
      const text = (value: string | number | undefined): string | undefined =>
        value === undefined ? undefined : String(value);
      const { fromMs, toMs } = parseRange(
        { from: text(request.body.from), to: text(request.body.to) },
        now(),
        3_600_000,
      );
      const format = (request.body.format ?? 'csv') as ExportFormat;
      const issued = await deps.tickets.issue(caller.id, { devices: [...request.body.devices], fromMs, toMs, format });
      if (issued === null) {
        const resetSeconds = Math.ceil(deps.tickets.ttlMs / 1000);
        void reply.header('retry-after', String(resetSeconds));
        throw new ApiError('rate_limited', 'too many export links are outstanding; retry in a minute', {
          limit: 'export-tickets',
          max: deps.tickets.maxOutstanding,
          windowMs: deps.tickets.ttlMs,
          remaining: 0,
          resetSeconds,
        });
      }
      return reply
        .code(201)
        .send({ url: `${API_PREFIX}${EXPORTS_ROUTE}/${issued.ticket}`, expiresAt: issued.expiresAt });
    },
  );

  typed.get(
    `${EXPORTS_ROUTE}/:ticket`,
    {
      schema: {
        tags: ['query'],
        summary: 'Stream the export a download link was issued for (single use; the link is the credential)',
        // The ticket authenticates; a bearer token, if sent, must be the ticket owner's.
        security: [{}, ...BEARER_SECURITY],
        params: Type.Object({ ticket: Type.String({ pattern: TICKET_PATTERN }) }),
        response: EXPORT_RESPONSES,
      },
    },
    async (request, reply) => {
      const held = await deps.tickets.take(request.params.ticket);
      if (held === undefined) throw new ApiError('not_found', 'no such export link (unknown, used or expired)');
      // A credential is never needed here, but one that is sent must be the owner's: anyone else holding
      // the link has it by mistake (the ticket is used up either way).
      if (presentedCredential(request) !== undefined) {
        const subject = bearerSubject(app, request);
        if (subject?.kind !== 'user' || subject.id !== held.owner) {
          throw new ApiError('forbidden', 'this export link belongs to another account');
        }
      }
      const owner = await deps.accounts.findUserById(held.owner);
      if (owner === undefined || owner.disabled) {
        throw new ApiError('unauthorized', 'the account that asked for this export is unknown or disabled');
      }
      void reply.header('cache-control', 'no-store');
      return sendExport(reply, deps.store, held.spec);
    },
  );
}
