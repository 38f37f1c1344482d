/**
 * The classic hex dump of raw bytes: offset, sixteen bytes in hex (split in two groups of eight) and
 * the printable ASCII beside them, so a refused frame's header, length prefix and text can be read.
 */

export interface HexRow {
  /** Offset of the row's first byte, 8 hex digits. */
  readonly offset: string;
  /** 16 bytes as "00 01 … 07  08 … 0f", padded so the ASCII column lines up. */
  readonly hex: string;
  /** Printable ASCII (0x20–0x7e) as itself, everything else as '.'. */
  readonly ascii: string;
}

export const BYTES_PER_ROW = 16;

export function bytesFromHex(hex: string): Uint8Array {
  const pairs = hex.match(/[0-9a-fA-F]{2}/g) ?? [];
  return Uint8Array.from(pairs, (pair) => Number.parseInt(pair, 16));
}

export function hexDumpRows(bytes: Uint8Array): HexRow[] {
  const rows: HexRow[] = [];
  for (let start = 0; start < bytes.length; start += BYTES_PER_ROW) {
    const cells: string[] = [];
    let ascii = '';
    for (let i = 0; i < BYTES_PER_ROW; i += 1) {
      const byte = bytes[start + i];
      if (i === BYTES_PER_ROW / 2) cells.push('');
      if (byte === undefined) {
        cells.push('  ');
        continue;
      }
      cells.push(byte.toString(16).padStart(2, '0'));
      ascii += byte >= 0x20 && byte <= 0x7e ? String.fromCharCode(byte) : '.';
    }
    rows.push({ offset: start.toString(16).padStart(8, '0'), hex: cells.join(' '), ascii });
  }
  return rows;
}
