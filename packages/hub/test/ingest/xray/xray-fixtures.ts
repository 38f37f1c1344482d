/**
 * XRayIOT's signer and message shapes written from design §4.6/§4.7 (not from the hub's code), so the
 * tests check the hub against the contract: the secret is a UTF-8 string, header values are strings,
 * the nonce is 16 random bytes as 32 lowercase hex, timestamps are ISO 8601.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';

export type Algorithm = 'sha256' | 'sha512';

/** hex(HMAC(alg, K, base)), base = algorithm, deviceId, nonce, payload = hex(HMAC(alg, K, body)), timestamp. */
export function xraySign(
  secret: string,
  algorithm: Algorithm,
  deviceId: string,
  body: string,
  timestamp: string,
  nonce: string,
): string {
  const payload = createHmac(algorithm, secret).update(body).digest('hex');
  const params: Record<string, string> = { algorithm, deviceId, nonce, payload, timestamp };
  const base = Object.entries(params)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  return createHmac(algorithm, secret).update(base).digest('hex');
}

export function nonce(): string {
  return randomBytes(16).toString('hex');
}

/** The headers of §4.7 (HTTP): x-timestamp is the signing time. */
export function httpHeaders(
  secret: string,
  algorithm: Algorithm,
  deviceId: string,
  body: string,
  timestamp: string = new Date().toISOString(),
  n: string = nonce(),
): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-device-id': deviceId,
    'x-timestamp': timestamp,
    'x-nonce': n,
    'x-algorithm': algorithm,
    'x-hmac-signature': xraySign(secret, algorithm, deviceId, body, timestamp, n),
  };
}

/** The headers of §4.6 (AMQP): x-timestamp-auth (= capturedAt) is the signing time, x-timestamp the publish time. */
export function amqpHeaders(
  secret: string,
  algorithm: Algorithm,
  signal: { deviceId: string; capturedAt: string; schemaVersion?: string },
  body: string,
  n: string = nonce(),
): Record<string, string> {
  return {
    'x-correlation-id': randomUUID(),
    'x-timestamp': new Date().toISOString(),
    'x-service': 'producer',
    'x-schema-version': signal.schemaVersion ?? 'v1',
    'x-device-id': signal.deviceId,
    'x-hmac-signature': xraySign(secret, algorithm, signal.deviceId, body, signal.capturedAt, n),
    'x-timestamp-auth': signal.capturedAt,
    'x-nonce': n,
    'x-algorithm': algorithm,
  };
}

/** The seed's sample x-ray data for one device: points [offset ms, [x, y, speed]] from `time`. */
export function sampleData(key: string, time: number, points: number): string {
  const data = Array.from({ length: points }, (_, i) => [
    i * 1000 + 762,
    [51.339764 + i / 1e5, 12.339223833333334, 1.2 + i],
  ]);
  return JSON.stringify({ [key]: { data, time } });
}

export function signal(
  deviceId: string,
  payload: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { deviceId, capturedAt: new Date().toISOString(), payload, schemaVersion: 'v1', ...extra };
}
