/** Accounts as the API shows them: GET /api/v1/auth/me, GET /api/v1/users and the login answer's user. */
import { Type, type Static } from '@sinclair/typebox';
import { stringEnum } from './string-enum.js';

export const Role = stringEnum(['admin', 'operator', 'viewer'] as const, {
  description: 'viewer reads; operator also manages devices; admin also manages users',
});
export type Role = Static<typeof Role>;

export const User = Type.Object(
  {
    id: Type.String(),
    username: Type.String(),
    role: Role,
    createdAt: Type.Number(),
    disabled: Type.Boolean(),
  },
  { $id: 'User' },
);
export type User = Static<typeof User>;

/** GET /api/v1/users; items are `User` (referenced by id, so the hub registers `User` first). */
export const UserList = Type.Object({ items: Type.Array(Type.Ref('User')) });
export type UserList = { items: User[] };
