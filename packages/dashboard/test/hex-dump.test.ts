// Tests for the hex dump: offsets, the split hex column, printable ASCII, short last rows.
import { describe, expect, it } from 'vitest';
import { bytesFromHex, hexDumpRows } from '../src/hex-dump.js';

describe('hexDumpRows', () => {
  it('shows offset, 16 bytes in two groups and printable ASCII', () => {
    const bytes = new TextEncoder().encode('Hello, Sealstream!\n');
    const rows = hexDumpRows(bytes);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual({
      offset: '00000000',
      hex: '48 65 6c 6c 6f 2c 20 53  65 61 6c 73 74 72 65 61',
      ascii: 'Hello, Sealstrea',
    });
    expect(rows[1]?.offset).toBe('00000010');
    expect(rows[1]?.ascii).toBe('m!.');
    // The short last row is padded so its ASCII column lines up with full rows.
    expect(rows[1]?.hex.length).toBe(rows[0]?.hex.length);
  });
  it('renders nothing for no bytes', () => {
    expect(hexDumpRows(new Uint8Array())).toEqual([]);
  });
});

describe('bytesFromHex', () => {
  it('reads byte pairs and ignores anything else', () => {
    expect([...bytesFromHex('00ff7F')]).toEqual([0, 255, 127]);
    expect([...bytesFromHex('')]).toEqual([]);
  });
});
