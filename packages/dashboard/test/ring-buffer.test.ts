// Tests for RingBuffer: bounded, oldest-overwritten, order-preserving.
import { describe, expect, it } from 'vitest';
import { RingBuffer } from '../src/ring-buffer.js';

describe('RingBuffer', () => {
  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(-1)).toThrow(RangeError);
    expect(() => new RingBuffer(2.5)).toThrow(RangeError);
  });

  it('keeps items oldest first until full', () => {
    const ring = new RingBuffer<number>(3);
    ring.push(1);
    ring.push(2);
    expect(ring.size).toBe(2);
    expect(ring.toArray()).toEqual([1, 2]);
    expect(ring.oldest()).toBe(1);
    expect(ring.newest()).toBe(2);
    expect(ring.evicted).toBe(0);
  });

  it('overwrites the oldest item when full and counts the eviction', () => {
    const ring = new RingBuffer<number>(3);
    ring.pushAll([1, 2, 3, 4, 5]);
    expect(ring.size).toBe(3);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect(ring.toArrayNewestFirst()).toEqual([5, 4, 3]);
    expect(ring.evicted).toBe(2);
  });

  it('never holds more than its capacity however many items arrive', () => {
    const ring = new RingBuffer<number>(600);
    for (let i = 0; i < 10_000; i += 1) ring.push(i);
    expect(ring.size).toBe(600);
    expect(ring.oldest()).toBe(9_400);
    expect(ring.newest()).toBe(9_999);
  });

  it('indexes from the oldest and returns undefined out of range', () => {
    const ring = new RingBuffer<string>(2);
    ring.pushAll(['a', 'b', 'c']);
    expect(ring.at(0)).toBe('b');
    expect(ring.at(1)).toBe('c');
    expect(ring.at(2)).toBeUndefined();
    expect(ring.at(-1)).toBeUndefined();
    expect(ring.at(0.5)).toBeUndefined();
  });

  it('drops from the oldest end while a predicate holds, across the wrap point', () => {
    const ring = new RingBuffer<number>(4);
    ring.pushAll([1, 2, 3, 4, 5, 6]); // holds 3,4,5,6 with head wrapped
    expect(ring.dropOldestWhile((value) => value < 5)).toBe(2);
    expect(ring.toArray()).toEqual([5, 6]);
    ring.pushAll([7, 8, 9]);
    expect(ring.toArray()).toEqual([6, 7, 8, 9]);
    expect(ring.dropOldestWhile(() => true)).toBe(4);
    expect(ring.size).toBe(0);
    expect(ring.newest()).toBeUndefined();
  });

  it('starts empty again after clear', () => {
    const ring = new RingBuffer<number>(2);
    ring.pushAll([1, 2, 3]);
    ring.clear();
    expect(ring.size).toBe(0);
    expect(ring.toArray()).toEqual([]);
    ring.push(9);
    expect(ring.toArray()).toEqual([9]);
  });

  it('matches a plain array trimmed to the last N items for any sequence of pushes', () => {
    for (const capacity of [1, 2, 7, 16]) {
      const ring = new RingBuffer<number>(capacity);
      const reference: number[] = [];
      for (let i = 0; i < 50; i += 1) {
        const value = (i * 7919) % 101;
        ring.push(value);
        reference.push(value);
        expect(ring.toArray()).toEqual(reference.slice(-capacity));
      }
    }
  });
});
