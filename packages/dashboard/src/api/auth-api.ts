/**
 * Sign-in against the hub: POST /api/v1/auth/login for a token, GET /api/v1/auth/me to check a stored
 * token and pick up role changes, POST /api/v1/auth/refresh to renew a token before it expires.
 * Failures come back as sentences a person can act on.
 */
import type { User } from '@sealstream/contract';
import type { Session } from '../session.js';
import { isRole, sessionFromLogin } from '../session.js';
import type { ApiClient, Fetched } from './api-client.js';
import { describeError } from './api-client.js';

export async function login(
  username: string,
  password: string,
  now: () => number = Date.now,
): Promise<Fetched<Session>> {
  let response: Response;
  try {
    response = await fetch('/api/v1/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  } catch (error) {
    return {
      ok: false,
      error: `The hub did not answer (${error instanceof Error ? error.message : 'network error'}).`,
      status: 0,
      code: 'network',
    };
  }
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: handled by the status below.
  }
  if (!response.ok) {
    const { code, message } = describeError(response.status, body);
    if (code === 'invalid_credentials') {
      return { ok: false, error: 'Wrong user name or password, or the account is disabled.', status: 401, code };
    }
    if (response.status === 429) {
      const retry = response.headers.get('retry-after');
      return {
        ok: false,
        error: `Too many sign-in attempts; try again${retry === null ? ' later' : ` in ${retry} s`}.`,
        status: 429,
        code,
      };
    }
    return { ok: false, error: `Sign-in failed: ${message}.`, status: response.status, code };
  }
  const session = sessionFromLogin(body, now());
  return session === null
    ? {
        ok: false,
        error: 'Sign-in failed: unexpected answer from the hub.',
        status: response.status,
        code: 'bad_answer',
      }
    : { ok: true, value: session };
}

/** What GET /api/v1/auth/me tells the dashboard: the part of the contract's `User` it uses. */
export type Me = Readonly<Pick<User, 'username' | 'role'>>;

export function parseMe(body: unknown): Me | null {
  if (typeof body !== 'object' || body === null) return null;
  const record = body as Record<string, unknown>;
  return typeof record['username'] === 'string' && isRole(record['role'])
    ? { username: record['username'], role: record['role'] }
    : null;
}

export function fetchMe(api: ApiClient, signal?: AbortSignal): Promise<Fetched<Me>> {
  return api.getJson('/api/v1/auth/me', parseMe, signal === undefined ? {} : { signal });
}

/** A fresh token for the signed-in account (same answer as login, with the account's current role). */
export function refreshSession(
  api: ApiClient,
  signal?: AbortSignal,
  now: () => number = Date.now,
): Promise<Fetched<Session>> {
  return api.postJson('/api/v1/auth/refresh', (body) => sessionFromLogin(body, now()), {
    ...(signal === undefined ? {} : { signal }),
  });
}
