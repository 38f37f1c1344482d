// Tests for RejectsLog: live and dead-letter rejects merged, de-duplicated, newest first, bounded.
import { describe, expect, it } from 'vitest';
import type { DeadLetterItem, LiveReject } from '../src/contract.js';
import { RejectsLog } from '../src/rejects-log.js';

const live = (at: number, detail = `d${at}`): LiveReject => ({
  reason: 'integrity_failed',
  source: 'tcp',
  device: 'dev-1',
  detail,
  at,
});

const deadLetter = (at: number, detail = `d${at}`): DeadLetterItem => ({
  id: `dl-${at}`,
  reason: 'integrity_failed',
  source: 'tcp',
  peer: '127.0.0.1:5000',
  device: 'dev-1',
  detail,
  receivedAt: at,
  rawHex: '00ff',
  truncated: false,
});

describe('RejectsLog', () => {
  it('lists live rejects newest first', () => {
    const log = new RejectsLog(10);
    log.addLive([live(1), live(3), live(2)]);
    expect(log.entries().map((entry) => entry.at)).toEqual([3, 2, 1]);
  });

  it('keeps only the newest `capacity` entries however many arrive', () => {
    const log = new RejectsLog(200);
    for (let batch = 0; batch < 20; batch += 1) {
      log.addLive(Array.from({ length: 50 }, (_, i) => live(batch * 50 + i)));
      if (batch % 3 === 0) log.entries();
    }
    const entries = log.entries();
    expect(entries).toHaveLength(200);
    expect(entries[0]?.at).toBe(999);
    expect(entries[199]?.at).toBe(800);
  });

  it('merges the dead-letter page with live rejects, showing a refusal seen on both paths once', () => {
    const log = new RejectsLog(10);
    log.addLive([live(5), live(7)]);
    log.entries();
    log.addDeadLetters([deadLetter(7), deadLetter(6), deadLetter(1)]);
    const entries = log.entries();
    expect(entries.map((entry) => entry.at)).toEqual([7, 6, 5, 1]);
    // The REST copy wins because it carries the raw bytes.
    expect(entries[0]?.deadLetter?.rawHex).toBe('00ff');
    // A later live copy of the same refusal does not replace it.
    log.addLive([live(7)]);
    expect(log.entries()[0]?.deadLetter?.id).toBe('dl-7');
    expect(log.entries()).toHaveLength(4);
  });

  it('returns the same array until something new arrives', () => {
    const log = new RejectsLog(10);
    log.addLive([live(1)]);
    const first = log.entries();
    expect(log.entries()).toBe(first);
    log.addLive([live(2)]);
    expect(log.entries()).not.toBe(first);
  });
});
