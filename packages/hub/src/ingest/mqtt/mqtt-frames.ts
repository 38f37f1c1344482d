/**
 * One MQTT message of sealed frames, start to answer: the payload is one or more length-prefixed native
 * frames (the same bytes as on TCP), fed to a frame session whose peer is the topic. The answer is the
 * ACK / ERROR frames of its DATA frames, concatenated, for the channel's answer topic. Frames the hub
 * could not take (overload, store outage) are tried again in place while the hub runs, so the message is
 * acknowledged to the broker only once every frame in it was committed or refused for good; when the
 * hub shuts down first, the message is left unacknowledged and the broker delivers it again.
 *
 * A payload that does not frame is refused whole (reason code, dead letter with the topic and the raw
 * bytes) and acknowledged, so it never loops; so is one over `maxMessageBytes` (`body_too_large`) and an
 * empty one (`malformed_body`: an empty *retained* publish never reaches here, mqtt-ingest.ts ignores it).
 */
import { encodeError, FrameDecoder, FrameType, REASONS, type DecodeItem } from '@sealstream/protocol';
import type { Pipeline } from '../../pipeline/pipeline.js';
import { encodeAnswer, FrameSession, type SessionAnswer } from '../session/frame-session.js';

export interface MqttFramesSettings {
  readonly pipeline: Pipeline;
  readonly logger: { error(details: object, message: string): void };
  readonly maxFrameBytes: number;
  readonly maxFramesPerMessage: number;
  /** Largest payload taken; the broker sends nothing much larger (maximum packet size). */
  readonly maxMessageBytes: number;
  /** Wait before trying again frames the hub could not take; doubled up to 8 times this. */
  readonly retryDelayMs: number;
  /** True once the hub is shutting down: frames still not taken are left to the broker's redelivery. */
  readonly isClosing: () => boolean;
}

/**
 * `handled`: acknowledge (PUBACK success) and publish `answer` when present. `refused`: the payload as a
 * whole is bad; acknowledge with "payload format invalid" and publish `answer`. `hold`: do not acknowledge.
 */
export type MessageOutcome =
  | { readonly kind: 'handled'; readonly answer: Buffer | null; readonly frames: number }
  | { readonly kind: 'refused'; readonly answer: Buffer }
  | { readonly kind: 'hold' };

export async function handleFramesMessage(
  settings: MqttFramesSettings,
  topic: string,
  payload: Buffer,
): Promise<MessageOutcome> {
  const session = new FrameSession({
    pipeline: settings.pipeline,
    logger: settings.logger,
    source: 'mqtt',
    // The topic names the sender: it is what a dead letter shows and what the dead-letter budget shares by.
    peer: topic,
    control: 'data-only',
    reserveFrameIdZero: true,
    refusalBudget: null,
    transportName: 'over MQTT',
    // A broker delivers an unacknowledged message again (after a lost connection): not a replay.
    repeatedIv: 'redelivered',
  });
  if (payload.length === 0) return refuseWhole(session, 'malformed_body', `empty payload on ${topic}`, payload);
  if (payload.length > settings.maxMessageBytes) {
    const detail = `payload of ${payload.length} bytes over ${settings.maxMessageBytes} (topic ${topic})`;
    return refuseWhole(session, 'body_too_large', detail, payload);
  }
  const decoder = new FrameDecoder({ maxFrameBytes: settings.maxFrameBytes });
  // MQTT.js hands each message its own buffer, so the decoder may give views into it.
  const items: DecodeItem[] = [...decoder.push(payload), ...decoder.end()];
  const fatal = items.find((item) => !item.ok && item.fatal);
  if (fatal !== undefined && !fatal.ok) {
    return refuseWhole(session, fatal.reason, `${fatal.detail} (topic ${topic})`, payload);
  }
  if (items.length > settings.maxFramesPerMessage) {
    const detail = `more than ${settings.maxFramesPerMessage} frames in one message (topic ${topic})`;
    return refuseWhole(session, 'malformed_body', detail, payload);
  }
  const answers = await Promise.all(items.map((item) => answerOf(settings, session, item)));
  if (answers.some((answer) => answer === null)) return { kind: 'hold' };
  const bytes: Buffer[] = [];
  for (const answer of answers) {
    const encoded = answer === null ? null : encodeAnswer(answer);
    if (encoded !== null) bytes.push(encoded);
  }
  return { kind: 'handled', answer: bytes.length === 0 ? null : Buffer.concat(bytes), frames: items.length };
}

/** The answer of one item; null when the hub is closing and the frame was never taken. */
async function answerOf(
  settings: MqttFramesSettings,
  session: FrameSession,
  item: DecodeItem,
): Promise<SessionAnswer | null> {
  let delay = settings.retryDelayMs;
  for (;;) {
    const step = session.handle(item);
    const answer = step.kind === 'pending' ? await step.answer : step.answer;
    if (answer.kind !== 'error' || REASONS[answer.reason].scope !== 'hub') return answer;
    // The shared replay window is away, maybe for long: the device is told (ERROR state_unavailable) and
    // resends later, rather than every hub retrying - and dead-lettering - each message meanwhile.
    if (answer.reason === 'state_unavailable') return answer;
    // Not taken (its IV was forgotten, so the same bytes open again): wait, then try again.
    if (settings.isClosing()) return null;
    await new Promise((resolve) => setTimeout(resolve, delay).unref());
    if (settings.isClosing()) return null;
    delay = Math.min(delay * 2, settings.retryDelayMs * 8);
  }
}

function refuseWhole(
  session: FrameSession,
  reason: Parameters<FrameSession['refuseStream']>[0],
  detail: string,
  payload: Buffer,
): MessageOutcome {
  const answer = encodeAnswer(session.refuseStream(reason, detail, payload));
  return { kind: 'refused', answer: answer ?? Buffer.alloc(0) };
}

/**
 * The answer to a QoS 0 message of frames that reached the hub after its shutdown began: an ERROR
 * `shutting_down` (retryable) for each DATA frame in it, so the device resends them elsewhere (nothing
 * delivers a QoS 0 message again); null when no frame in it can be named.
 */
export function shuttingDownAnswer(
  settings: Pick<MqttFramesSettings, 'maxFrameBytes' | 'maxMessageBytes'>,
  payload: Buffer,
): Buffer | null {
  if (payload.length === 0 || payload.length > settings.maxMessageBytes) return null;
  const decoder = new FrameDecoder({ maxFrameBytes: settings.maxFrameBytes });
  const errors: Buffer[] = [];
  for (const item of [...decoder.push(payload), ...decoder.end()]) {
    if (item.ok && item.frame.type === FrameType.Data) {
      errors.push(encodeError(item.frame.frameId, 'shutting_down', 'the hub is shutting down; send this frame again'));
    }
  }
  return errors.length === 0 ? null : Buffer.concat(errors);
}
