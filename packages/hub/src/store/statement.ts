/**
 * A parameterised SQL statement, and joining several into one statement of data-modifying CTEs (one
 * round trip, one implicit transaction). Shared by the commit and rollup statement builders.
 */

export interface Statement {
  readonly text: string;
  readonly params: readonly unknown[];
}

/** `$n` placeholders of a statement that will be joined with others: numbering starts after `offset`. */
export function placeholders(offset: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `$${offset + i + 1}`);
}

/**
 * Joins writes into ONE statement of data-modifying CTEs: one round trip, and (outside an explicit
 * transaction) one atomic implicit transaction. PostgreSQL runs every data-modifying CTE exactly once
 * and to completion whether or not its output is read. Each part is built by a function taking the
 * parameter offset. Returns null when there is nothing to write.
 */
export function combineWrites(parts: ReadonlyArray<(offset: number) => Statement>): Statement | null {
  if (parts.length === 0) return null;
  const ctes: string[] = [];
  const params: unknown[] = [];
  for (const part of parts) {
    const statement = part(params.length);
    ctes.push(`w${ctes.length} AS (${statement.text})`);
    for (const value of statement.params) params.push(value);
  }
  return { text: `WITH ${ctes.join(',\n  ')}\nSELECT 1`, params };
}
