/** The MQTT topic layout: what the hub subscribes to and which inbound topics it reads. */
import { describe, expect, it } from 'vitest';
import { answersTopic, isValidPrefix, parseInboundTopic, sharedFilters } from '../../../src/ingest/mqtt/mqtt-topics.js';

describe('MQTT topic layout', () => {
  it('subscribes through the group and reads only <prefix>/<channel>/frames|signed', () => {
    expect(sharedFilters('sealstream/v1', 'g1')).toEqual([
      '$share/g1/sealstream/v1/+/frames',
      '$share/g1/sealstream/v1/+/signed',
    ]);
    expect(parseInboundTopic('sealstream/v1', 'sealstream/v1/dev-1/frames')).toEqual({
      kind: 'frames',
      channel: 'dev-1',
    });
    expect(parseInboundTopic('sealstream/v1', 'sealstream/v1/dev-1/signed')).toEqual({
      kind: 'signed',
      channel: 'dev-1',
    });
    for (const topic of [
      'sealstream/v1/dev-1/answers',
      'sealstream/v1/a/b/frames',
      'other/v1/dev-1/frames',
      'sealstream/v1//frames',
    ]) {
      expect(parseInboundTopic('sealstream/v1', topic), topic).toBeNull();
    }
    expect(answersTopic('p/v1', 'k.1')).toBe('p/v1/k.1/answers');
  });

  it('refuses prefixes with wildcards, empty levels or a leading $', () => {
    expect(isValidPrefix('sealstream/v1')).toBe(true);
    for (const bad of ['', '$SYS/x', 'a/+/b', 'a/#', 'a//b']) expect(isValidPrefix(bad), bad).toBe(false);
  });
});
