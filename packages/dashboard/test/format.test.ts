// Tests for display formatting: counts, rates, percentages, ages, times, metric values, hex dumps.
import { describe, expect, it } from 'vitest';
import {
  formatAge,
  formatAgo,
  formatClock,
  formatCount,
  formatDateTime,
  formatHexDump,
  formatMetric,
  formatPercent,
  formatRate,
  formatTimeTick,
  formatUnknown,
} from '../src/format.js';

describe('formatCount', () => {
  it('groups thousands and rounds to whole numbers', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(999.6)).toBe('1,000');
  });
  it('shows a dash for values that are not numbers', () => {
    expect(formatCount(Number.NaN)).toBe('–');
    expect(formatCount(Infinity)).toBe('–');
  });
});

describe('formatRate', () => {
  it('keeps one decimal for small rates so a trickle is not shown as zero', () => {
    expect(formatRate(0)).toBe('0');
    expect(formatRate(0.2)).toBe('0.2');
    expect(formatRate(9.94)).toBe('9.9');
    expect(formatRate(5)).toBe('5');
  });
  it('shows whole numbers from 10 and compact thousands from 10,000', () => {
    expect(formatRate(10.4)).toBe('10');
    expect(formatRate(4321.7)).toBe('4,322');
    expect(formatRate(12_345)).toBe('12.3k');
    expect(formatRate(250_000)).toBe('250k');
  });
});

describe('formatPercent', () => {
  it('shows up to two decimals without trailing zeros', () => {
    expect(formatPercent(100)).toBe('100%');
    expect(formatPercent(97.5)).toBe('97.5%');
    expect(formatPercent(33.333)).toBe('33.33%');
    expect(formatPercent(0)).toBe('0%');
  });
  it('never rounds a failure away to 100% or a success away to 0%', () => {
    expect(formatPercent(99.9999)).toBe('99.99%');
    expect(formatPercent(0.0001)).toBe('0.01%');
  });
});

describe('formatTimeTick', () => {
  const at = new Date(2026, 11, 7, 19, 30, 5).getTime();
  it('labels chart time axes in 24-hour local time, with the date when the axis spans days', () => {
    expect(formatTimeTick(at, 10_000, 300_000)).toBe('19:30:05');
    expect(formatTimeTick(at, 300_000, 3_600_000)).toBe('19:30');
    expect(formatTimeTick(at, 21_600_000, 7 * 86_400_000)).toBe('12-07 19:30');
    expect(formatTimeTick(at, 86_400_000, 30 * 86_400_000)).toBe('2026-12-07');
    expect(formatTimeTick(Number.NaN, 1000, 1000)).toBe('–');
  });
});

describe('formatAgo', () => {
  it('says "now" and future times as they are, and adds "ago" to past ones only', () => {
    expect(formatAgo(300)).toBe('now');
    expect(formatAgo(42_000)).toBe('42s ago');
    expect(formatAgo(3 * 60_000 + 5_000)).toBe('3m 05s ago');
    expect(formatAgo(-5_000)).toBe('in 5s');
    expect(formatAgo(Number.NaN)).toBe('–');
  });
});

describe('formatAge', () => {
  it('uses the largest two units', () => {
    expect(formatAge(0)).toBe('now');
    expect(formatAge(999)).toBe('now');
    expect(formatAge(42_000)).toBe('42s');
    expect(formatAge(3 * 60_000 + 5_000)).toBe('3m 05s');
    expect(formatAge(2 * 3_600_000 + 7 * 60_000)).toBe('2h 07m');
    expect(formatAge(3 * 86_400_000 + 4 * 3_600_000)).toBe('3d 04h');
  });
  it('shows a clock ahead of ours as a future time instead of a negative age', () => {
    expect(formatAge(-5_000)).toBe('in 5s');
    expect(formatAge(-300)).toBe('now');
  });
  it('shows a dash for non-finite input', () => {
    expect(formatAge(Number.NaN)).toBe('–');
  });
});

describe('formatClock and formatDateTime', () => {
  it('render local time with zero padding', () => {
    const at = new Date(2025, 0, 31, 4, 3, 7, 950).getTime();
    expect(formatClock(at)).toBe('04:03:07');
    expect(formatDateTime(at)).toBe('2025-01-31 04:03:07');
  });
});

describe('formatMetric', () => {
  it('keeps integers, cuts fractions to three decimals and uses exponents at the extremes', () => {
    expect(formatMetric(42)).toBe('42');
    expect(formatMetric(-3)).toBe('-3');
    expect(formatMetric(21.456789)).toBe('21.457');
    expect(formatMetric(0.5)).toBe('0.5');
    expect(formatMetric(0.000012)).toBe('1.20e-5');
    expect(formatMetric(0)).toBe('0');
  });
});

describe('formatUnknown', () => {
  it('renders strings, numbers and objects, cutting long text with an ellipsis', () => {
    expect(formatUnknown('ok')).toBe('ok');
    expect(formatUnknown(1.23456)).toBe('1.235');
    expect(formatUnknown({ a: [1, 2] })).toBe('{"a":[1,2]}');
    expect(formatUnknown(null)).toBe('null');
    expect(formatUnknown('x'.repeat(100), 10)).toBe(`${'x'.repeat(9)}…`);
  });
});

describe('formatHexDump', () => {
  it('splits bytes and wraps every 16', () => {
    expect(formatHexDump('0a0b0c')).toBe('0a 0b 0c');
    const twenty = 'ff'.repeat(20);
    expect(formatHexDump(twenty)).toBe(`${Array(16).fill('ff').join(' ')}\n${Array(4).fill('ff').join(' ')}`);
  });
});
