/**
 * SQL for the device registry (devices, sealed device keys, API keys, the registry change counter) and
 * for marking dead letters re-driven. Every registry write runs in one transaction with the counter
 * bump, so a hub that sees the new counter value also sees the write.
 */
import type { DeadLetterRow } from '../pipeline/ports.js';
import { API_KEY_SCOPES } from '../registry/registry-ports.js';
import type {
  ApiKeyRow,
  ApiKeyScope,
  ApiKeyWithHash,
  DeviceKeyRow,
  DeviceRow,
  InsertResult,
  NewApiKey,
  NewDeviceKey,
  RegistryStore,
} from '../registry/registry-ports.js';
import type { SqlExecutor, SqlQueryable, SqlRow } from './sql-executor.js';
import { sqlStateOf, storeFailure } from './store-errors.js';
import { bytesToHex, hexToBytes, msOf, toNullableText, toNumber, toText } from './sql-values.js';
import { DEAD_LETTER_COLUMNS, toDeadLetterRow } from './dead-letter-rows.js';

const UNIQUE_VIOLATION = '23505';
const DEVICE_COLUMNS = `id, name, ${msOf('created_at')} AS created_ms, ${msOf('revoked_at')} AS revoked_ms`;
const KEY_COLUMNS = `key_id, device_id, encode(secret_sealed, 'hex') AS sealed_hex, ${msOf('created_at')} AS created_ms,
  ${msOf('expires_at')} AS expires_ms, ${msOf('revoked_at')} AS revoked_ms, secret_kind`;
const API_KEY_COLUMNS = `id, name, array_to_string(scopes, ',') AS scopes,
  encode(secret_sha256, 'hex') AS hash_hex, ${msOf('created_at')} AS created_ms, ${msOf('revoked_at')} AS revoked_ms,
  ${msOf('last_used_at')} AS last_used_ms`;
const BUMP = 'UPDATE registry_state SET version = version + 1 WHERE id = 1';

export type RedriveOutcome = 'accepted' | 'duplicate' | 'refused';

export class SqlRegistryStore implements RegistryStore {
  constructor(private readonly executor: SqlExecutor) {}

  registryVersion(): Promise<number> {
    return this.guard('registryVersion', async () => {
      const [row] = await this.executor.query('SELECT version::float8 AS v FROM registry_state WHERE id = 1');
      return toNumber(row?.['v'], 'version');
    });
  }

  listDevices(): Promise<DeviceRow[]> {
    return this.guard('listDevices', async () =>
      (await this.executor.query(`SELECT ${DEVICE_COLUMNS} FROM devices ORDER BY id`)).map(toDevice),
    );
  }

  findDevice(id: string): Promise<DeviceRow | undefined> {
    return this.guard('findDevice', async () => {
      const [row] = await this.executor.query(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE id = $1`, [id]);
      return row === undefined ? undefined : toDevice(row);
    });
  }

  insertDeviceWithKey(
    device: { id: string; name: string | null },
    key: NewDeviceKey,
  ): Promise<InsertResult<DeviceRow>> {
    return this.guard('insertDeviceWithKey', async () => {
      try {
        return await this.executor.transaction(async (tx) => {
          const [row] = await tx.query(
            `INSERT INTO devices (id, name, created_at) VALUES ($1, $2, to_timestamp($3 / 1000.0))
             RETURNING ${DEVICE_COLUMNS}`,
            [device.id, device.name, key.createdAt],
          );
          await insertKey(tx, device.id, key);
          await tx.query(BUMP);
          if (row === undefined) throw new Error('store: device insert returned no row');
          return { ok: true as const, row: toDevice(row) };
        });
      } catch (error) {
        if (sqlStateOf(error) === UNIQUE_VIOLATION) return { ok: false as const, reason: 'exists' as const };
        throw error;
      }
    });
  }

  rotateDeviceKey(device: string, key: NewDeviceKey, previousExpireAt: number): Promise<DeviceKeyRow[]> {
    return this.guard('rotateDeviceKey', () =>
      this.executor.transaction(async (tx) => {
        // Lock the device row so two concurrent rotations serialise instead of both shortening each other.
        await tx.query('SELECT id FROM devices WHERE id = $1 FOR UPDATE', [device]);
        const previous = await tx.query(
          `UPDATE device_keys
              SET expires_at = LEAST(coalesce(expires_at, 'infinity'::timestamptz), to_timestamp($2 / 1000.0))
            WHERE device_id = $1 AND revoked_at IS NULL
              AND (expires_at IS NULL OR expires_at > to_timestamp($3 / 1000.0))
            RETURNING ${KEY_COLUMNS}`,
          [device, previousExpireAt, key.createdAt],
        );
        await insertKey(tx, device, key);
        await tx.query(BUMP);
        return previous.map(toDeviceKey);
      }),
    );
  }

  revokeDeviceKey(device: string, keyId: string, at: number): Promise<DeviceKeyRow | undefined> {
    return this.guard('revokeDeviceKey', () =>
      this.executor.transaction(async (tx) => {
        const [row] = await tx.query(
          `UPDATE device_keys SET revoked_at = coalesce(revoked_at, to_timestamp($3 / 1000.0))
            WHERE device_id = $1 AND key_id = $2 RETURNING ${KEY_COLUMNS}`,
          [device, keyId, at],
        );
        await tx.query(BUMP);
        return row === undefined ? undefined : toDeviceKey(row);
      }),
    );
  }

  revokeDevice(device: string, at: number): Promise<DeviceRow | undefined> {
    return this.guard('revokeDevice', () =>
      this.executor.transaction(async (tx) => {
        const [row] = await tx.query(
          `UPDATE devices SET revoked_at = coalesce(revoked_at, to_timestamp($2 / 1000.0))
            WHERE id = $1 RETURNING ${DEVICE_COLUMNS}`,
          [device, at],
        );
        await tx.query(
          `UPDATE device_keys SET revoked_at = to_timestamp($2 / 1000.0)
            WHERE device_id = $1 AND revoked_at IS NULL`,
          [device, at],
        );
        await tx.query(BUMP);
        return row === undefined ? undefined : toDevice(row);
      }),
    );
  }

  listDeviceKeys(device?: string): Promise<DeviceKeyRow[]> {
    return this.guard('listDeviceKeys', async () => {
      const rows =
        device === undefined
          ? await this.executor.query(`SELECT ${KEY_COLUMNS} FROM device_keys ORDER BY created_at, key_id`)
          : await this.executor.query(
              `SELECT ${KEY_COLUMNS} FROM device_keys WHERE device_id = $1 ORDER BY created_at, key_id`,
              [device],
            );
      return rows.map(toDeviceKey);
    });
  }

  insertApiKey(key: NewApiKey): Promise<ApiKeyRow> {
    return this.guard('insertApiKey', async () => {
      const [row] = await this.executor.query(
        `INSERT INTO api_keys (id, name, scopes, secret_sha256, created_at)
         VALUES ($1, $2, string_to_array($3, ','), decode($4, 'hex'), to_timestamp($5 / 1000.0))
         RETURNING ${API_KEY_COLUMNS}`,
        [key.id, key.name, key.scopes.join(','), bytesToHex(key.secretHash), key.createdAt],
      );
      if (row === undefined) throw new Error('store: API key insert returned no row');
      return withoutHash(toApiKey(row));
    });
  }

  findApiKey(id: string): Promise<ApiKeyWithHash | undefined> {
    return this.guard('findApiKey', async () => {
      const [row] = await this.executor.query(`SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE id = $1`, [id]);
      return row === undefined ? undefined : toApiKey(row);
    });
  }

  listApiKeys(): Promise<ApiKeyRow[]> {
    return this.guard('listApiKeys', async () =>
      (await this.executor.query(`SELECT ${API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`)).map((row) =>
        withoutHash(toApiKey(row)),
      ),
    );
  }

  revokeApiKey(id: string, at: number): Promise<ApiKeyRow | undefined> {
    return this.guard('revokeApiKey', async () => {
      const [row] = await this.executor.query(
        `UPDATE api_keys SET revoked_at = coalesce(revoked_at, to_timestamp($2 / 1000.0)) WHERE id = $1
         RETURNING ${API_KEY_COLUMNS}`,
        [id, at],
      );
      return row === undefined ? undefined : withoutHash(toApiKey(row));
    });
  }

  touchApiKey(id: string, at: number): Promise<void> {
    return this.guard('touchApiKey', async () => {
      await this.executor.query('UPDATE api_keys SET last_used_at = to_timestamp($2 / 1000.0) WHERE id = $1', [id, at]);
    });
  }

  // --- dead-letter re-drive ---

  findDeadLetter(id: string): Promise<DeadLetterRow | undefined> {
    return this.guard('findDeadLetter', async () => {
      if (!/^[0-9]{1,18}$/.test(id)) return undefined;
      const [row] = await this.executor.query(
        `SELECT ${DEAD_LETTER_COLUMNS}
         FROM dead_letters WHERE id = $1::bigint`,
        [id],
      );
      return row === undefined ? undefined : toDeadLetterRow(row);
    });
  }

  /**
   * Takes the right to re-drive one dead letter for `leaseMs` from `at`: false while another re-drive
   * holds it (in this hub or another on the same store). One UPDATE: PostgreSQL re-checks the WHERE
   * clause on a row a concurrent claimant has just changed, so of two claims at once exactly one wins.
   */
  claimRedrive(id: string, at: number, leaseMs: number): Promise<boolean> {
    return this.guard('claimRedrive', async () => {
      const rows = await this.executor.query(
        `UPDATE dead_letters SET redrive_claimed_until = to_timestamp(($2::float8 + $3::float8) / 1000.0)
         WHERE id = $1::bigint
           AND (redrive_claimed_until IS NULL OR redrive_claimed_until <= to_timestamp($2::float8 / 1000.0))
         RETURNING id`,
        [id, at, leaseMs],
      );
      return rows.length === 1;
    });
  }

  /** Gives back a claim whose re-drive recorded nothing (refused as not re-drivable, or the hub was busy). */
  releaseRedrive(id: string): Promise<void> {
    return this.guard('releaseRedrive', async () => {
      await this.executor.query('UPDATE dead_letters SET redrive_claimed_until = NULL WHERE id = $1::bigint', [id]);
    });
  }

  /** Records a finished re-drive and gives back its claim. */
  markRedriven(id: string, outcome: RedriveOutcome, at: number): Promise<void> {
    return this.guard('markRedriven', async () => {
      await this.executor.query(
        `UPDATE dead_letters SET redriven_at = to_timestamp($2 / 1000.0), redrive_outcome = $3,
           redrive_claimed_until = NULL
         WHERE id = $1::bigint`,
        [id, at, outcome],
      );
    });
  }

  private async guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeFailure(operation, error);
    }
  }
}

async function insertKey(tx: SqlQueryable, device: string, key: NewDeviceKey): Promise<void> {
  await tx.query(
    `INSERT INTO device_keys (key_id, device_id, secret_sealed, created_at, secret_kind)
     VALUES ($1, $2, decode($3, 'hex'), to_timestamp($4 / 1000.0), $5)`,
    [key.keyId, device, bytesToHex(key.sealedSecret), key.createdAt, key.kind ?? 'raw'],
  );
}

function nullableMs(value: unknown, column: string): number | null {
  return value === null || value === undefined ? null : toNumber(value, column);
}

function toDevice(row: SqlRow): DeviceRow {
  return {
    id: toText(row['id'], 'id'),
    name: toNullableText(row['name'], 'name'),
    createdAt: toNumber(row['created_ms'], 'created_at'),
    revokedAt: nullableMs(row['revoked_ms'], 'revoked_at'),
  };
}

function toDeviceKey(row: SqlRow): DeviceKeyRow {
  return {
    keyId: toText(row['key_id'], 'key_id'),
    device: toText(row['device_id'], 'device_id'),
    sealedSecret: hexToBytes(row['sealed_hex'], 'secret_sealed'),
    createdAt: toNumber(row['created_ms'], 'created_at'),
    expiresAt: nullableMs(row['expires_ms'], 'expires_at'),
    revokedAt: nullableMs(row['revoked_ms'], 'revoked_at'),
    kind: row['secret_kind'] === 'utf8' ? 'utf8' : 'raw',
  };
}

function toApiKey(row: SqlRow): ApiKeyWithHash {
  const scopes = toText(row['scopes'], 'scopes');
  return {
    id: toText(row['id'], 'id'),
    name: toText(row['name'], 'name'),
    // Scopes no longer granted by this version grant nothing.
    scopes: scopes
      .split(',')
      .filter((scope): scope is ApiKeyScope => (API_KEY_SCOPES as readonly string[]).includes(scope)),
    secretHash: hexToBytes(row['hash_hex'], 'secret_sha256'),
    createdAt: toNumber(row['created_ms'], 'created_at'),
    revokedAt: nullableMs(row['revoked_ms'], 'revoked_at'),
    lastUsedAt: nullableMs(row['last_used_ms'], 'last_used_at'),
  };
}

function withoutHash(key: ApiKeyWithHash): ApiKeyRow {
  const { secretHash: _hash, ...row } = key;
  return row;
}
