/**
 * Dead-letter routes beyond the list: the whole stored bytes of one refusal (GET …/raw) and the
 * operator's re-drive (POST …/redrive), which sends the stored input through the pipeline again.
 */
import type { RedriveOutcome } from '@sealstream/contract';
import type { ApiClient, Fetched } from './api-client.js';
import { isNumber, isObject, isString } from './parse.js';

export type { RedriveOutcome };

export interface RedriveAnswer {
  readonly outcome: RedriveOutcome;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: number;
  readonly reason: string | null;
  readonly detail: string | null;
}

/** Raw bytes read from the API are capped, so a huge stored input cannot freeze the hex view. */
export const MAX_RAW_BYTES = 64 * 1024;

export function parseRedriveAnswer(body: unknown): RedriveAnswer | null {
  if (!isObject(body)) return null;
  const outcome = body['outcome'];
  if (outcome !== 'accepted' && outcome !== 'duplicate' && outcome !== 'refused') return null;
  return {
    outcome,
    accepted: isNumber(body['accepted']) ? body['accepted'] : 0,
    duplicates: isNumber(body['duplicates']) ? body['duplicates'] : 0,
    rejected: isNumber(body['rejected']) ? body['rejected'] : 0,
    reason: isString(body['reason']) ? body['reason'] : null,
    detail: isString(body['detail']) ? body['detail'] : null,
  };
}

const letterPath = (id: string): string => `/api/v1/dead-letters/${encodeURIComponent(id)}`;

export interface RawBytes {
  readonly bytes: Uint8Array;
  /** True when the answer was longer than MAX_RAW_BYTES and was cut. */
  readonly cut: boolean;
}

export async function fetchRawBytes(api: ApiClient, id: string, signal: AbortSignal): Promise<Fetched<RawBytes>> {
  const answer = await api.raw(`${letterPath(id)}/raw`, 'application/octet-stream', signal);
  if (!answer.ok) return answer;
  try {
    const buffer = new Uint8Array(await answer.value.arrayBuffer());
    return buffer.byteLength > MAX_RAW_BYTES
      ? { ok: true, value: { bytes: buffer.subarray(0, MAX_RAW_BYTES), cut: true } }
      : { ok: true, value: { bytes: buffer, cut: false } };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : 'read failed', status: 0, code: 'network' };
  }
}

export function redrive(api: ApiClient, id: string): Promise<Fetched<RedriveAnswer>> {
  return api.postJson(`${letterPath(id)}/redrive`, parseRedriveAnswer, { body: {} });
}
