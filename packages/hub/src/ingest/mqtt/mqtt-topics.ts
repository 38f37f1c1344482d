/**
 * The MQTT topic layout (docs/protocol.md, "MQTT"). Under a prefix (default `sealstream/v1`), each sending
 * client owns a channel (by convention its key id or device id; one channel per client, because answers
 * name frames by the client's frameIds):
 *
 *   <prefix>/<channel>/frames          device -> hub: one or more native sealed frames, QoS 1 (or 0)
 *   <prefix>/<channel>/signed          device -> hub: HMAC-signed JSON (MQTT 5 user properties), QoS 1 (or 0)
 *   <prefix>/<channel>/answers         hub -> device: the ACK / ERROR frames of its frames, QoS 1
 *   <prefix>/<channel>/signed-answers  hub -> device: the JSON answer to a signed message, QoS 1
 *
 * Hubs subscribe through the shared subscription `$share/<group>/<prefix>/+/frames` (and `/signed`), so
 * each message reaches one hub of the group. Pure: no I/O.
 */

export const DEFAULT_TOPIC_PREFIX = 'sealstream/v1';

/** A channel is one topic level of printable characters: no wildcards or separators, at most 128 characters. */
const CHANNEL_PATTERN = /^[^/+#\s]{1,128}$/;

export type InboundKind = 'frames' | 'signed';

export interface InboundTopic {
  readonly kind: InboundKind;
  readonly channel: string;
}

export function isValidChannel(channel: string): boolean {
  return CHANNEL_PATTERN.test(channel) && !channel.includes('\u0000');
}

/** A prefix is one or more topic levels without wildcards, not starting with `$` (reserved by brokers). */
export function isValidPrefix(prefix: string): boolean {
  return (
    prefix.length > 0 && !prefix.startsWith('$') && prefix.split('/').every((level) => CHANNEL_PATTERN.test(level))
  );
}

export function framesTopic(prefix: string, channel: string): string {
  return `${prefix}/${channel}/frames`;
}

export function signedTopic(prefix: string, channel: string): string {
  return `${prefix}/${channel}/signed`;
}

export function answersTopic(prefix: string, channel: string): string {
  return `${prefix}/${channel}/answers`;
}

export function signedAnswersTopic(prefix: string, channel: string): string {
  return `${prefix}/${channel}/signed-answers`;
}

/** The shared-subscription filters a hub of `group` subscribes to. */
export function sharedFilters(prefix: string, group: string): string[] {
  return [`$share/${group}/${prefix}/+/frames`, `$share/${group}/${prefix}/+/signed`];
}

/** What an inbound topic names, or null when it is not one of ours. */
export function parseInboundTopic(prefix: string, topic: string): InboundTopic | null {
  if (!topic.startsWith(`${prefix}/`)) return null;
  const rest = topic.slice(prefix.length + 1).split('/');
  if (rest.length !== 2) return null;
  const [channel = '', kind = ''] = rest;
  if (!isValidChannel(channel)) return null;
  if (kind !== 'frames' && kind !== 'signed') return null;
  return { kind, channel };
}
