/**
 * The users table: API accounts with a role and a password hash (hashed by the caller; the store never
 * sees a password). Duplicate usernames come back as a value, not an exception, so the API can answer
 * 409 without parsing driver errors.
 */
import type { SqlQueryable } from './sql-executor.js';
import { sqlStateOf } from './store-errors.js';
import { toBoolean, toNumber, toText, wholeMsOf } from './sql-values.js';

export type Role = 'admin' | 'operator' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'operator', 'viewer'];

export interface UserRow {
  readonly id: string;
  readonly username: string;
  readonly role: Role;
  readonly createdAt: number;
  readonly disabled: boolean;
}

export interface UserWithHash extends UserRow {
  readonly passwordHash: string;
}

export type CreateUserResult = { ok: true; user: UserRow } | { ok: false; reason: 'username_taken' };

export interface UserPatch {
  readonly role?: Role;
  readonly disabled?: boolean;
  readonly passwordHash?: string;
}

const UNIQUE_VIOLATION = '23505';
// created_at is read as whole ms: rows written before it was truncated on insert hold microseconds.
const COLUMNS = `id::text AS id, username, role, ${wholeMsOf('created_at')} AS created_ms, disabled, password_hash`;

function toRole(value: unknown): Role {
  const text = toText(value, 'role');
  if (!(ROLES as readonly string[]).includes(text)) throw new Error('store: column role has an unknown value');
  return text as Role;
}

function toUser(row: Record<string, unknown>): UserWithHash {
  return {
    id: toText(row['id'], 'id'),
    username: toText(row['username'], 'username'),
    role: toRole(row['role']),
    createdAt: toNumber(row['created_ms'], 'created_at'),
    disabled: toBoolean(row['disabled'], 'disabled'),
    passwordHash: toText(row['password_hash'], 'password_hash'),
  };
}

/** The public view: everything but the hash. */
export function withoutHash(user: UserWithHash): UserRow {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    createdAt: user.createdAt,
    disabled: user.disabled,
  };
}

export async function insertUser(
  db: SqlQueryable,
  user: { username: string; role: Role; passwordHash: string },
): Promise<CreateUserResult> {
  try {
    const [row] = await db.query(
      // Whole milliseconds, like every time the hub writes from its own clock (the column's default,
      // now(), has microseconds), so what is stored is what the API answers.
      `INSERT INTO users (username, role, password_hash, created_at)
       VALUES ($1, $2, $3, date_trunc('milliseconds', now())) RETURNING ${COLUMNS}`,
      [user.username, user.role, user.passwordHash],
    );
    if (row === undefined) throw new Error('store: insert returned no row');
    return { ok: true, user: withoutHash(toUser(row)) };
  } catch (error) {
    if (sqlStateOf(error) === UNIQUE_VIOLATION) return { ok: false, reason: 'username_taken' };
    throw error;
  }
}

export async function selectUserByName(db: SqlQueryable, username: string): Promise<UserWithHash | undefined> {
  const [row] = await db.query(`SELECT ${COLUMNS} FROM users WHERE username = $1`, [username]);
  return row === undefined ? undefined : toUser(row);
}

export async function selectUserById(db: SqlQueryable, id: string): Promise<UserWithHash | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  const [row] = await db.query(`SELECT ${COLUMNS} FROM users WHERE id = $1::bigint`, [id]);
  return row === undefined ? undefined : toUser(row);
}

export async function selectUsers(db: SqlQueryable): Promise<UserRow[]> {
  const rows = await db.query(`SELECT ${COLUMNS} FROM users ORDER BY id`);
  return rows.map((row) => withoutHash(toUser(row)));
}

export async function countUsers(db: SqlQueryable): Promise<number> {
  const [row] = await db.query('SELECT count(*)::float8 AS n FROM users');
  return toNumber(row?.['n'], 'n');
}

/** Applies only the fields present; undefined when the user does not exist. */
export async function updateUser(db: SqlQueryable, id: string, patch: UserPatch): Promise<UserRow | undefined> {
  if (!/^[0-9]{1,18}$/.test(id)) return undefined;
  const [row] = await db.query(
    `UPDATE users SET
       role = coalesce($2, role),
       disabled = coalesce($3, disabled),
       password_hash = coalesce($4, password_hash)
     WHERE id = $1::bigint RETURNING ${COLUMNS}`,
    [id, patch.role ?? null, patch.disabled ?? null, patch.passwordHash ?? null],
  );
  return row === undefined ? undefined : withoutHash(toUser(row));
}

/** Deletes the account; false when it did not exist. */
export async function deleteUser(db: SqlQueryable, id: string): Promise<boolean> {
  if (!/^[0-9]{1,18}$/.test(id)) return false;
  const rows = await db.query('DELETE FROM users WHERE id = $1::bigint RETURNING id', [id]);
  return rows.length > 0;
}
