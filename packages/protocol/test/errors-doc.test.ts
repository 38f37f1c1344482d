import { readFileSync } from 'node:fs';
import { REASONS, type ReasonCode } from '@sealstream/protocol';
import { describe, expect, it } from 'vitest';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

/** The table rows of the "## Reason codes" section only (other sections, e.g. HTTP errors, may follow). */
function reasonRows(): Map<string, { code: number; scope: string; retryable: boolean; description: string }> {
  const start = doc.indexOf('\n## Reason codes\n');
  expect(start, 'docs/errors.md has a "## Reason codes" heading').toBeGreaterThanOrEqual(0);
  const rest = doc.slice(start + 1);
  const next = rest.indexOf('\n## ', 1);
  const section = next === -1 ? rest : rest.slice(0, next);
  const rows = new Map<string, { code: number; scope: string; retryable: boolean; description: string }>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const match = /^\| `([^`]+)` \| (\d+) \| ([a-z]+) \| (yes|no) \| (.+) \|$/.exec(line);
    expect(match, `row is well-formed: ${line}`).not.toBeNull();
    if (!match) continue;
    const [, reason, code, scope, retryable, description] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    expect(rows.has(reason), `row for ${reason} appears once`).toBe(false);
    rows.set(reason, { code: Number(code), scope, retryable: retryable === 'yes', description });
  }
  return rows;
}

describe('docs/errors.md', () => {
  const rows = reasonRows();

  it('lists every reason code with the same code, scope, retryable and description', () => {
    for (const reason of Object.keys(REASONS) as ReasonCode[]) {
      const info = REASONS[reason];
      expect(rows.get(reason), reason).toEqual({
        code: info.code,
        scope: info.scope,
        retryable: info.retryable,
        description: info.description,
      });
    }
  });

  it('lists no reason code that reasons.ts lacks', () => {
    const known = new Set<string>(Object.keys(REASONS));
    expect([...rows.keys()].filter((reason) => !known.has(reason))).toEqual([]);
    expect(rows.size).toBe(known.size);
  });

  it('uses each numeric code once', () => {
    const codes = [...rows.values()].map((row) => row.code);
    expect(new Set(codes).size).toBe(codes.length);
  });
});
