/** String enums as plain `{ type: 'string', enum }` schemas (TypeBox unions of literals render as noisy anyOf). */
import { Type, type TUnsafe } from '@sinclair/typebox';

export function stringEnum<const T extends string>(
  values: readonly T[],
  options: { description?: string } = {},
): TUnsafe<T> {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...options });
}
