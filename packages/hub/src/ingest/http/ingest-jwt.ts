/**
 * The InsightHub clients' bearer: an HS256 JWT signed with a shared ingest secret (their `JWT_SECRET`).
 * Like their own server it asks nothing of the claims; unlike it, it fails closed on everything else:
 * only `alg: HS256` (never `none`, never another algorithm, whatever the header says), a signature that
 * verifies in constant time, and `exp` / `nbf` honoured when present (5 s of clock tolerance). The token
 * says nothing about which device speaks: the route takes that from the body and asks the registry.
 */
import { createVerifier, TokenError } from 'fast-jwt';

/** Longer bearers are refused unread (a JWT of a few claims is a few hundred bytes). */
export const MAX_INGEST_JWT_CHARS = 8192;

/** Shortest ingest secret the hub accepts: shorter HS256 secrets fall to an offline search from one token. */
export const MIN_INGEST_JWT_SECRET_BYTES = 16;

export type IngestJwtVerdict = { readonly ok: true } | { readonly ok: false; readonly detail: string };

export type IngestJwtVerifier = (token: string) => IngestJwtVerdict;

/** True when `token` has the shape of a JWT (three base64url parts), as opposed to a device token. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

export function createIngestJwtVerifier(secret: string): IngestJwtVerifier {
  // No cache: a cached verdict would outlive a rotated secret's first refusal, and HS256 costs ~2 µs.
  const verify = createVerifier({ key: secret, algorithms: ['HS256'], clockTolerance: 5_000, cache: false });
  return (token) => {
    if (token.length > MAX_INGEST_JWT_CHARS) return { ok: false, detail: 'the bearer token is too long' };
    try {
      verify(token);
      return { ok: true };
    } catch (error) {
      // Say which rule failed, never echo the token.
      return { ok: false, detail: describe(error) };
    }
  };
}

function describe(error: unknown): string {
  if (!(error instanceof TokenError)) return 'the bearer token is not valid';
  switch (error.code) {
    case TokenError.codes.expired:
      return 'the bearer token has expired';
    case TokenError.codes.inactive:
      return 'the bearer token is not valid yet (nbf)';
    case TokenError.codes.invalidAlgorithm:
      return 'the bearer token must be signed with HS256';
    case TokenError.codes.invalidSignature:
      return 'the bearer token signature does not verify';
    default:
      return 'the bearer token is not a valid HS256 JWT';
  }
}
