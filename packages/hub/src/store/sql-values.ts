/**
 * Converts driver column values to plain JS values. The two drivers disagree on some types (pg returns
 * bigint and numeric as strings, PGlite returns int8 as a number), so every read goes through here.
 */

export function toNumber(value: unknown, column: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = Number(value);
    if (!Number.isNaN(parsed)) return parsed;
  }
  throw new Error(`store: column ${column} is not numeric`);
}

export function toText(value: unknown, column: string): string {
  if (typeof value === 'string') return value;
  throw new Error(`store: column ${column} is not text`);
}

export function toNullableText(value: unknown, column: string): string | null {
  return value === null || value === undefined ? null : toText(value, column);
}

export function toBoolean(value: unknown, column: string): boolean {
  if (typeof value === 'boolean') return value;
  throw new Error(`store: column ${column} is not boolean`);
}

/** jsonb arrives parsed from both drivers; a string means a driver was configured without the parser. */
export function toJsonObject(value: unknown, column: string): Record<string, unknown> {
  const parsed: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  throw new Error(`store: column ${column} is not a JSON object`);
}

/** Bytes are read as hex (`encode(col, 'hex')`) so both drivers yield the same plain Uint8Array. */
export function hexToBytes(value: unknown, column: string): Uint8Array {
  return new Uint8Array(Buffer.from(toText(value, column), 'hex'));
}

export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * SQL expression turning a timestamptz column into float8 ms since the epoch. `extract` yields an
 * exact numeric (PostgreSQL 14+), so whole milliseconds written with to_timestamp(ms / 1000.0) come
 * back unchanged.
 */
export function msOf(column: string): string {
  return `(extract(epoch from ${column}) * 1000)::float8`;
}

/**
 * `msOf` for a column the database clock filled (DEFAULT now(), in microseconds): whole milliseconds, as
 * every time the API answers. Not for keyset cursors, which must compare the exact stored value.
 */
export function wholeMsOf(column: string): string {
  return `floor(extract(epoch from ${column}) * 1000)::float8`;
}

/**
 * text refuses U+0000 (and a driver turns an unpaired surrogate into U+FFFD, or the JSON carrying it is
 * refused); dead-letter fields may echo hostile input, and one such character must not fail a commit.
 * The pipeline cleans them already; this is the store's own guarantee.
 */
export { storableText } from '@sealstream/protocol';
