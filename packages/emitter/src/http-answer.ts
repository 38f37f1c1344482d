/**
 * The answer of a hub HTTP ingest route as the HTTP clients return it: status, parsed JSON body, and
 * the Retry-After seconds of a 503/429 so a caller can pause before retrying. Transport failures are
 * answers too (status 0), never exceptions, so callers branch on one value.
 */

export interface HttpIngestAnswer {
  /** HTTP status; 0 when the request did not complete (connection refused, reset, timeout). */
  readonly status: number;
  readonly body: unknown;
  /** Seconds from Retry-After, when the hub sent one (503 busy, 429 rate limited). */
  readonly retryAfterSeconds: number | undefined;
  /** True when sending the same content again later may succeed (status 0, 429, 503). */
  readonly retryable: boolean;
}

export async function postForAnswer(
  url: string,
  init: { headers: Record<string, string>; body: Uint8Array | string; timeoutMs: number },
): Promise<HttpIngestAnswer> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal: AbortSignal.timeout(init.timeoutMs),
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      status: 0,
      body: { error: { code: 'transport', message } },
      retryAfterSeconds: undefined,
      retryable: true,
    };
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  return {
    status: response.status,
    body,
    retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
    retryable: response.status === 429 || response.status === 503,
  };
}
