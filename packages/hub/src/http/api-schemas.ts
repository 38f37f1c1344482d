/**
 * TypeBox schemas shared by several routes: the error body and the standard error responses, and the
 * OpenAPI security requirement for bearer tokens. The answer shapes clients read live in the REST
 * contract (packages/contract); request-only schemas live next to their routes.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Role, stringEnum } from '@sealstream/contract';
import { API_ERRORS } from './api-errors.js';

export { stringEnum };

/** Where the REST API is mounted: one encapsulated plugin (http-app.ts); its routes use paths relative to it. */
export const API_PREFIX = '/api/v1';

/** The role enum of the REST contract (packages/contract), under the name the routes know. */
export const RoleSchema = Role;

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: stringEnum(Object.keys(API_ERRORS) as Array<keyof typeof API_ERRORS>),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ApiError', description: 'The one error shape of the API (see docs/errors.md, "API errors").' },
);

/** Every route may answer these; listing them keeps the OpenAPI document honest about failures. */
export function withErrorResponses<T extends Record<number, TSchema>>(
  ok: T,
): T & { '4xx': typeof ErrorRef; '5xx': typeof ErrorRef } {
  return { ...ok, '4xx': ErrorRef, '5xx': ErrorRef };
}

export const ErrorRef = Type.Ref('ApiError');

/** A login token or an API key (as a bearer value or in X-API-Key); API keys never reach admin routes. */
export const BEARER_SECURITY: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyAuth: [] }];

/** Milliseconds since the epoch, as used across the API. */
export const EpochMs = Type.Number({ description: 'milliseconds since the Unix epoch (UTC)' });
