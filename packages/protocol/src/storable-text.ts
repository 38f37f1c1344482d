/**
 * What PostgreSQL's text and jsonb refuse, found before a value reaches a commit. text refuses U+0000;
 * jsonb refuses the escape \u0000 and unpaired UTF-16 surrogates (JSON.stringify writes them as \udXXX
 * escapes, which jsonb rejects), in values and in keys at any depth; a number beyond a double cannot be
 * written as JSON at all. One such value in a batch once failed the whole batch's commit, so every way
 * in checks with these, and text kept only for the record (dead letters) is cleaned with storableText.
 */

// eslint-disable-next-line no-control-regex -- matching NUL is the point of this pattern
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// eslint-disable-next-line no-control-regex -- as above, every occurrence
const UNSTORABLE_ALL = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** True when PostgreSQL text and jsonb strings can hold `text` as it is. */
export function isStorableText(text: string): boolean {
  return !UNSTORABLE.test(text);
}

/** `text` with every NUL and unpaired surrogate replaced by U+FFFD, for text kept only as a record. */
export function storableText(text: string): string {
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE_ALL, '\uFFFD') : text;
}

export const UNSTORABLE_TEXT_DETAIL = 'contains a NUL character or an unpaired surrogate';

/**
 * Why a JSON value (as JSON.parse gives it) cannot be stored as jsonb, or undefined when it can: a
 * string or key with a NUL or an unpaired surrogate, a number beyond a double, or nesting deeper than
 * `maxDepth`. `what` names the value in the answer ("data contains …").
 */
export function findUnstorableJson(value: unknown, what: string, maxDepth: number, depth = 0): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : `${what} ${UNSTORABLE_TEXT_DETAIL}`;
  // JSON.parse turns 1e400 into Infinity, which JSON (and jsonb) cannot hold: it would be stored as null.
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${what} contains a number beyond a double`;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= maxDepth) return `${what} nests deeper than ${maxDepth} levels`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findUnstorableJson(item, what, maxDepth, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const key in value) {
    if (!isStorableText(key)) return `${what} ${UNSTORABLE_TEXT_DETAIL}`;
    const found = findUnstorableJson((value as Record<string, unknown>)[key], what, maxDepth, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
