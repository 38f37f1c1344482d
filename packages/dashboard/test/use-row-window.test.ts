// Tests for the row window arithmetic: overscan, clamping at both ends, empty tables.
import { describe, expect, it } from 'vitest';
import { windowRange } from '../src/use-row-window.js';

describe('windowRange', () => {
  it('renders the visible rows plus the overscan, clamped to the table', () => {
    expect(windowRange({ first: 0, visible: 10 }, 200, 5)).toEqual({ start: 0, end: 15 });
    expect(windowRange({ first: 50, visible: 10 }, 200, 5)).toEqual({ start: 45, end: 65 });
    expect(windowRange({ first: 195, visible: 10 }, 200, 5)).toEqual({ start: 190, end: 200 });
  });
  it('renders nothing for an empty table or a window past its end', () => {
    expect(windowRange({ first: 0, visible: 10 }, 0, 5)).toEqual({ start: 0, end: 0 });
    expect(windowRange({ first: 300, visible: 10 }, 20, 5)).toEqual({ start: 20, end: 20 });
  });
});
