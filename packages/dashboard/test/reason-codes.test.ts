// Tests for the dead-letters reason suggestions: derived from the protocol's catalogue, so they cannot drift.
import { describe, expect, it } from 'vitest';
import { REASONS } from '../../protocol/src/reasons.js';
import { DEAD_LETTER_REASONS } from '../src/reason-codes.js';

describe('DEAD_LETTER_REASONS', () => {
  const offered = DEAD_LETTER_REASONS.map((option) => option.reason);

  it('offers every reason of the protocol catalogue that can be stored, the HTTP ingest request reasons included', () => {
    const storable = Object.entries(REASONS)
      .filter(([, info]) => info.scope !== 'hub')
      .map(([reason]) => reason);
    expect([...offered].sort()).toEqual([...storable].sort());
    for (const reason of [
      'missing_auth',
      'bad_signature',
      'stale_request',
      'replayed_nonce',
      'unknown_device',
      'bad_token',
      'malformed_body',
    ]) {
      expect(offered).toContain(reason);
    }
  });

  it('leaves out the hub-scope answers, which are never dead letters, and orders by wire code', () => {
    expect(offered).not.toContain('overloaded');
    expect(offered).not.toContain('shutting_down');
    const codes = offered.map((reason) => REASONS[reason as keyof typeof REASONS].code);
    expect(codes).toEqual([...codes].sort((a, b) => a - b));
    expect(DEAD_LETTER_REASONS.find((option) => option.reason === 'integrity_failed')?.description).toBe(
      REASONS.integrity_failed.description,
    );
  });
});
