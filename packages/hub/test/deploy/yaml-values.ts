/** Narrowing helpers for parsed YAML, which arrives as `unknown`. */

export type YamlMap = Record<string, unknown>;

export function asMap(value: unknown): YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as YamlMap) : {};
}

export function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** Scalars as their text (YAML reads `8080` as a number and `on` as a string in the core schema). */
export function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}
