/**
 * Re-driving legacy dead letters: a re-drive stores the token at the time the letter arrived, so a
 * second re-drive of the same letter is a duplicate, not a new copy; a replayed token cannot be
 * re-driven at all (its first copy was stored). Found by an outside checker: both once stored a new
 * copy on every re-drive.
 */
import { describe, expect, it } from 'vitest';
import { legacyKey, sealLegacyToken } from '@sealstream/protocol';
import { LegacyOpener } from '../../src/pipeline/legacy-opener.js';
import { Iv16ReplayWindow } from '../../src/pipeline/iv16-replay-window.js';
import { planRedrive } from '../../src/pipeline/redrive-plan.js';
import type { DeadLetterRow } from '../../src/pipeline/ports.js';

const key = legacyKey('legacy-redrive-test-key');
const token = sealLegacyToken({ name: 'Jack', origin: 'Pune', destination: 'Goa' }, key);

function opener(now: number): LegacyOpener {
  return new LegacyOpener({
    key,
    device: 'legacy-1',
    acceptVariants: ['sorted'],
    ivWindow: new Iv16ReplayWindow(3_600_000, 10_000),
    now: () => now,
  });
}

function letter(reason: DeadLetterRow['reason']): DeadLetterRow {
  return {
    id: '7',
    reason,
    source: 'legacy',
    peer: '127.0.0.1:5000',
    device: null,
    detail: '',
    raw: Buffer.from(token, 'latin1'),
    truncated: false,
    receivedAt: 1_700_000_000_000,
  };
}

describe('legacy re-drive', () => {
  it('opens a re-driven token at the time its letter arrived, so repeats give the same reading key', () => {
    const first = opener(1_800_000_000_000).openLine([token], 'redrive', 1_700_000_000_000);
    const again = opener(1_900_000_000_000).openLine([token], 'redrive', 1_700_000_000_000);
    expect(first.refused).toEqual([]);
    const [a] = first.readings;
    const [b] = again.readings;
    expect(a).toMatchObject({ device: 'legacy-1', ts: 1_700_000_000_000, receivedAt: 1_700_000_000_000 });
    expect(b && { device: b.device, seq: b.seq, ts: b.ts }).toEqual(a && { device: a.device, seq: a.seq, ts: a.ts });
  });

  it('never re-drives a replayed token; other legacy refusals of one token are re-drivable', () => {
    expect(planRedrive(letter('legacy_replayed_token'))).toMatchObject({ kind: 'impossible' });
    expect(planRedrive(letter('legacy_integrity_failed'))).toEqual({ kind: 'legacy-token', token });
  });

  it('a live token is still stamped with its receive time and a replay of it is refused', () => {
    const live = opener(1_800_000_000_000);
    expect(live.openLine([token]).readings[0]?.ts).toBe(1_800_000_000_000);
    expect(live.openLine([token]).refused[0]?.reason).toBe('legacy_replayed_token');
  });
});
