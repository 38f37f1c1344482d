// Tests for history time ranges: presets relative to now, custom local times, and refusals.
import { describe, expect, it } from 'vitest';
import { fromLocalInput, resolveRange, toLocalInput } from '../src/time-range.js';

describe('resolveRange', () => {
  it('resolves presets relative to now', () => {
    expect(resolveRange({ preset: '1h', from: '', to: '' }, 10_000_000)).toEqual({ from: 6_400_000, to: 10_000_000 });
  });
  it('reads custom local times and refuses empty or reversed ones', () => {
    const from = new Date(2026, 10, 23, 8, 0).getTime();
    const to = new Date(2026, 10, 23, 9, 30).getTime();
    expect(resolveRange({ preset: 'custom', from: toLocalInput(from), to: toLocalInput(to) }, 0)).toEqual({ from, to });
    expect(resolveRange({ preset: 'custom', from: '', to: toLocalInput(to) }, 0)).toHaveProperty('error');
    expect(resolveRange({ preset: 'custom', from: toLocalInput(to), to: toLocalInput(from) }, 0)).toHaveProperty(
      'error',
    );
  });
  it('round-trips datetime-local text', () => {
    const at = new Date(2026, 0, 2, 3, 4).getTime();
    expect(fromLocalInput(toLocalInput(at))).toBe(at);
    expect(fromLocalInput('yesterday')).toBeNaN();
  });
});
