/** Raw bytes as a hex dump (offset, hex, ASCII), in a scrollable, keyboard-focusable block. */
import { useMemo } from 'react';
import { hexDumpRows } from '../hex-dump.js';

interface HexDumpProps {
  readonly bytes: Uint8Array;
  readonly label: string;
}

export function HexDump({ bytes, label }: HexDumpProps) {
  const text = useMemo(
    () =>
      hexDumpRows(bytes)
        .map((row) => `${row.offset}  ${row.hex}  |${row.ascii}|`)
        .join('\n'),
    [bytes],
  );
  return (
    <pre className="hex hex-dump" tabIndex={0} aria-label={label} data-testid="hex-dump">
      {bytes.length === 0 ? '(no bytes)' : text}
    </pre>
  );
}
