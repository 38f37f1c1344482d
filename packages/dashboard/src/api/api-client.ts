/**
 * The one door to the hub's REST API: adds the bearer token, turns every failure (network, HTTP
 * status, the API's `{ error: { code, message } }` body, a wrong answer shape) into a value, and
 * reports a 401 once to the session so the page returns to the sign-in form instead of showing
 * empty data. Routes and answer checks live in the modules beside this one.
 */

export type Fetched<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly error: string;
      /** HTTP status, 0 when no answer arrived. */
      readonly status: number;
      /** The API's error code, or 'network' / 'bad_answer' / 'aborted'. */
      readonly code: string;
    };

export type Parse<T> = (body: unknown) => T | null;

export interface RequestOptions {
  readonly signal?: AbortSignal;
  readonly body?: unknown;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `{ error: { code, message } }` as "message (code)"; anything else as the status line. */
export function describeError(status: number, body: unknown): { code: string; message: string } {
  const error = isObject(body) ? body['error'] : undefined;
  if (isObject(error) && typeof error['code'] === 'string') {
    const message = typeof error['message'] === 'string' ? error['message'] : error['code'];
    return { code: error['code'], message };
  }
  return { code: `http_${status}`, message: `HTTP ${status}` };
}

/** The bearer token, or a function read at every request (the session renews its token under the client). */
export type TokenSource = string | null | (() => string | null);

export class ApiClient {
  constructor(
    private readonly token: TokenSource,
    private readonly onUnauthorized: () => void = () => undefined,
    private readonly base = '',
  ) {}

  private currentToken(): string | null {
    return typeof this.token === 'function' ? this.token() : this.token;
  }

  getJson<T>(path: string, parse: Parse<T>, options: RequestOptions = {}): Promise<Fetched<T>> {
    return this.json('GET', path, parse, options);
  }

  postJson<T>(path: string, parse: Parse<T>, options: RequestOptions = {}): Promise<Fetched<T>> {
    return this.json('POST', path, parse, options);
  }

  /** A raw answer (bytes, a CSV stream); only failures are read here. */
  async raw(path: string, accept: string, signal?: AbortSignal): Promise<Fetched<Response>> {
    const token = this.currentToken();
    const sent = await this.send('GET', path, accept, token, { ...(signal === undefined ? {} : { signal }) });
    if (!sent.ok) return sent;
    const response = sent.value;
    if (response.ok) return { ok: true, value: response };
    return this.failure(path, response, token);
  }

  private async json<T>(method: string, path: string, parse: Parse<T>, options: RequestOptions): Promise<Fetched<T>> {
    const token = this.currentToken();
    const sent = await this.send(method, path, 'application/json', token, options);
    if (!sent.ok) return sent;
    const response = sent.value;
    if (!response.ok) return this.failure(path, response, token);
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      return { ok: false, error: `${path}: answer is not JSON`, status: response.status, code: 'bad_answer' };
    }
    const value = parse(body);
    return value === null
      ? { ok: false, error: `${path}: unexpected answer shape`, status: response.status, code: 'bad_answer' }
      : { ok: true, value };
  }

  private async send(
    method: string,
    path: string,
    accept: string,
    token: string | null,
    options: RequestOptions,
  ): Promise<Fetched<Response>> {
    const headers: Record<string, string> = { accept };
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      return { ok: true, value: response };
    } catch (error) {
      const aborted = options.signal?.aborted === true;
      return {
        ok: false,
        error: `${path}: ${aborted ? 'cancelled' : error instanceof Error ? error.message : 'network error'}`,
        status: 0,
        code: aborted ? 'aborted' : 'network',
      };
    }
  }

  /** `token` is the one the request carried: a 401 for a token since replaced is no reason to sign out. */
  private async failure(path: string, response: Response, token: string | null): Promise<Fetched<never>> {
    let body: unknown = null;
    try {
      body = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    const { code, message } = describeError(response.status, body);
    if (response.status === 401 && token !== null && token === this.currentToken()) this.onUnauthorized();
    return { ok: false, error: `${path}: ${message}`, status: response.status, code };
  }
}
