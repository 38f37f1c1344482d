/**
 * Decides how a dead letter can be tried again: a whole refused frame (kept as its bytes) is opened again
 * with its own key; a legacy token is opened again; a reading refused for its timestamp (kept as its JSON)
 * is re-checked as a reading of its device. A reading refused before its key was shown to speak for its
 * device (`device_not_allowed`, `schema_invalid`) is never re-driven: the dead letter does not record the
 * sealing key, so nothing could prove the reading's authority. Nor is a replayed legacy token: its first
 * copy was stored. Anything else — cut-off bytes, broken
 * streams, refused HTTP requests whose headers are gone — cannot be re-driven either, and says why. Pure.
 */
import { FrameDecoder, FrameType, HARD_MAX_FRAME_BYTES, REASONS, type DataFrame } from '@sealstream/protocol';
import type { DeadLetterRow } from './ports.js';

/**
 * Reading refusals decided after the sealing key was checked to speak for the reading's device (see
 * FrameOpener.checkReadings: schema, then device authorisation, then the timestamp range).
 */
const REDRIVABLE_READING_REASONS: ReadonlySet<string> = new Set(['timestamp_out_of_range']);

export type RedrivePlan =
  | { readonly kind: 'reading'; readonly device: string; readonly candidate: unknown }
  | { readonly kind: 'frame'; readonly frame: DataFrame }
  | { readonly kind: 'legacy-token'; readonly token: string }
  | { readonly kind: 'impossible'; readonly why: string };

export function planRedrive(letter: DeadLetterRow): RedrivePlan {
  if (letter.truncated) return impossible('only the first bytes of this input were kept');
  const scope = REASONS[letter.reason]?.scope;
  if (scope === 'reading') {
    return REDRIVABLE_READING_REASONS.has(letter.reason)
      ? planReading(letter)
      : impossible(`a ${letter.reason} refusal was decided before the reading's key was shown to speak for its device`);
  }
  if (letter.source === 'legacy') {
    // The first copy of a replayed token was stored when it arrived: storing the replay would duplicate it.
    if (letter.reason === 'legacy_replayed_token')
      return impossible('a replayed token was stored when it first arrived');
    return scope === 'legacy'
      ? { kind: 'legacy-token', token: Buffer.from(letter.raw).toString('latin1') }
      : impossible('this legacy input is not a single token');
  }
  if (scope !== 'frame') return impossible(`a ${letter.reason} refusal has no complete frame to open again`);
  const decoder = new FrameDecoder({ maxFrameBytes: HARD_MAX_FRAME_BYTES });
  const items = [...decoder.push(Buffer.from(letter.raw)), ...decoder.end()];
  const [only] = items;
  if (items.length !== 1 || only === undefined || !only.ok || only.frame.type !== FrameType.Data) {
    return impossible('the stored bytes are not one DATA frame');
  }
  return { kind: 'frame', frame: only.frame };
}

function planReading(letter: DeadLetterRow): RedrivePlan {
  if (letter.device === null) return impossible('the refused reading names no valid device');
  try {
    const candidate: unknown = JSON.parse(Buffer.from(letter.raw).toString('utf8'));
    return { kind: 'reading', device: letter.device, candidate };
  } catch {
    return impossible('the stored reading is not JSON');
  }
}

function impossible(why: string): RedrivePlan {
  return { kind: 'impossible', why };
}
