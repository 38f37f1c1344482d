/**
 * The withheld PUBACKs of one connection: sent in arrival order whatever order commits finish in,
 * never after the connection is gone, and bounded.
 */
import { describe, expect, it } from 'vitest';
import { PubackWindow } from '../../../src/ingest/mqtt/puback-window.js';

function window(limit = 16): { acks: Array<[number, number]>; window: PubackWindow } {
  const acks: Array<[number, number]> = [];
  return { acks, window: new PubackWindow((id, code) => acks.push([id, code]), limit) };
}

describe('PubackWindow', () => {
  it('sends PUBACKs in the order the messages arrived, a later message waiting for earlier ones', () => {
    const { acks, window: w } = window();
    const first = w.hold(7);
    const second = w.hold(3);
    const third = w.hold(9);
    third(0);
    second(0x99);
    expect(acks).toEqual([]);
    expect(w.size).toBe(3);
    first(0);
    expect(acks).toEqual([
      [7, 0],
      [3, 0x99],
      [9, 0],
    ]);
    expect(w.size).toBe(0);
  });

  it('sends a message at the head at once, and a second release of it nothing', () => {
    const { acks, window: w } = window();
    const only = w.hold(1);
    only(0);
    only(0x80);
    expect(acks).toEqual([[1, 0]]);
  });

  it('sends nothing it held once discarded (the connection closed), even when the work finishes later', () => {
    const { acks, window: w } = window();
    const first = w.hold(1);
    const second = w.hold(2);
    first(0);
    w.discard();
    second(0);
    expect(acks).toEqual([[1, 0]]);
    const late = w.hold(3);
    late(0);
    expect(acks).toEqual([[1, 0]]);
  });

  it('is full at its limit until the head is acknowledged', () => {
    const { window: w } = window(2);
    const first = w.hold(1);
    const second = w.hold(2);
    expect(w.full).toBe(true);
    second(0);
    expect(w.full).toBe(true);
    first(0);
    expect(w.full).toBe(false);
    expect(() => new PubackWindow(() => undefined, 0)).toThrow(RangeError);
  });
});
