/**
 * The multiple-ack rule of the AMQP consumer: an ack for a later delivery never covers an earlier one
 * still being committed, nacked deliveries do not block later ones, and the tag sent is always one the
 * channel still holds.
 */
import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../../src/ingest/amqp/ack-tracker.js';

describe('AckTracker', () => {
  it('acks up to the end of the settled run that starts at the oldest delivery', () => {
    const acks = new AckTracker();
    for (const tag of [1, 2, 3, 4]) acks.delivered(tag);
    expect(acks.settle(1)).toBe(1);
    expect(acks.settle(3)).toBeNull(); // 2 is still being committed: 3 waits for it
    expect(acks.outstanding).toBe(3);
    expect(acks.settle(2)).toBe(3); // one ack frame now covers 2 and 3
    expect(acks.settle(4)).toBe(4);
    expect(acks.outstanding).toBe(0);
  });

  it('skips nacked deliveries and never names one in a multiple ack', () => {
    const acks = new AckTracker();
    for (const tag of [5, 6, 7]) acks.delivered(tag);
    expect(acks.settle(5)).toBe(5);
    expect(acks.nacked(7)).toBeNull(); // 6 pending
    expect(acks.settle(6)).toBe(6); // not 7: the channel no longer holds it
    acks.delivered(8);
    expect(acks.nacked(8)).toBeNull();
    expect(acks.outstanding).toBe(0);
  });

  it('ignores a second settlement of the same delivery and unknown tags', () => {
    const acks = new AckTracker();
    acks.delivered(1);
    acks.delivered(2);
    expect(acks.settle(2)).toBeNull();
    expect(acks.settle(2)).toBeNull();
    expect(acks.settle(99)).toBeNull();
    expect(acks.settle(1)).toBe(2);
  });

  it('stays bounded by the deliveries outstanding over a long run', () => {
    const acks = new AckTracker();
    for (let tag = 1; tag <= 100_000; tag += 1) {
      acks.delivered(tag);
      expect(acks.settle(tag)).toBe(tag);
    }
    expect(acks.outstanding).toBe(0);
    expect((acks as unknown as { tags: number[] }).tags.length).toBeLessThan(2_100);
  });
});
