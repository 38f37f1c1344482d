/**
 * XRayIOT-style signed JSON over HTTP (POST /api/v1/ingest/signed) and InsightHub-style token JSON
 * (POST /ingest). The signature, as the hub checks it (docs/api-ingest.md):
 *
 *   payload   = hex(HMAC-SHA256(secret, body bytes))
 *   signature = hex(HMAC-SHA256(secret, "algorithm=sha256&deviceId=<id>&nonce=<n>&payload=<payload>&timestamp=<ts>"))
 *
 * with `secret` the raw 32-byte device secret. Every request gets a fresh nonce and timestamp, so a
 * retry is signed again (the hub refuses a reused nonce as replayed_nonce).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { deviceToken } from '@sealstream/protocol';
import { postForAnswer, type HttpIngestAnswer } from './http-answer.js';

export const SIGNED_PATH = '/api/v1/ingest/signed';
export const INSIGHTHUB_PATH = '/ingest';

export interface SignatureInput {
  readonly deviceId: string;
  /** As it will be sent in x-timestamp (seconds or ms since the epoch, decimal). */
  readonly timestamp: string;
  /** 32 hex characters, as it will be sent in x-nonce. */
  readonly nonce: string;
}

/** hex HMAC-SHA256 signature for x-hmac-signature. */
export function signXRayIotRequest(secret: Uint8Array, input: SignatureInput, body: Uint8Array | string): string {
  const payload = createHmac('sha256', secret).update(body).digest('hex');
  const canonical = `algorithm=sha256&deviceId=${input.deviceId}&nonce=${input.nonce}&payload=${payload}&timestamp=${input.timestamp}`;
  return createHmac('sha256', secret).update(canonical, 'utf8').digest('hex');
}

/** The four headers of a signed request for `body`, with a fresh nonce and the current time in ms. */
export function signedHeaders(
  secret: Uint8Array,
  deviceId: string,
  body: Uint8Array | string,
  now: number = Date.now(),
): Record<string, string> {
  const input = { deviceId, timestamp: String(now), nonce: randomBytes(16).toString('hex') };
  return {
    'x-device-id': input.deviceId,
    'x-timestamp': input.timestamp,
    'x-nonce': input.nonce,
    'x-hmac-signature': signXRayIotRequest(secret, input, body),
  };
}

export interface SignedReading {
  readonly seq: number;
  readonly ts: number;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface HttpJsonClientOptions {
  /** The hub's HTTP base URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  readonly deviceId: string;
  /** The device secret: 32 bytes. */
  readonly secret: Uint8Array;
  /** Key id of the secret; needed only for InsightHub-style token requests. */
  readonly keyId?: string;
  readonly timeoutMs?: number;
}

export class HttpJsonClient {
  constructor(private readonly options: HttpJsonClientOptions) {}

  /** Posts readings signed the XRayIOT way; 200 after commit. */
  sendSigned(readings: readonly SignedReading[]): Promise<HttpIngestAnswer> {
    const body = JSON.stringify({ readings });
    return postForAnswer(`${this.options.baseUrl}${SIGNED_PATH}`, {
      headers: {
        'content-type': 'application/json',
        ...signedHeaders(this.options.secret, this.options.deviceId, body),
      },
      body,
      timeoutMs: this.options.timeoutMs ?? 30_000,
    });
  }

  /** Posts InsightHub-style `{device_id, value, time}` items with the device bearer token; 202 after commit. */
  sendInsightHub(
    items: ReadonlyArray<{ value: number; time: string | number; seq?: number }>,
  ): Promise<HttpIngestAnswer> {
    if (this.options.keyId === undefined) throw new Error('HttpJsonClient: keyId is needed for token requests');
    const body = JSON.stringify(items.map((item) => ({ device_id: this.options.deviceId, ...item })));
    return postForAnswer(`${this.options.baseUrl}${INSIGHTHUB_PATH}`, {
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${deviceToken(this.options.keyId, this.options.secret)}`,
      },
      body,
      timeoutMs: this.options.timeoutMs ?? 30_000,
    });
  }
}
