/**
 * The store schema as an ordered list of migrations. Kept as TypeScript constants so the build needs
 * no copy step. Every name is unqualified: the connection's search_path picks the schema. Migrations
 * are append-only; never edit one that has shipped.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  /** One statement per entry: PGlite's extended protocol runs a single statement per query. */
  readonly statements: readonly string[];
}

export const MIGRATIONS_TABLE_DDL = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'readings, minute rollups, dead letters',
    statements: [
      // Partitioned by device time, one partition per UTC day (created on demand, see partitions.ts),
      // so retention drops whole tables. The key includes ts because a partitioned table's unique
      // keys must contain the partition key. Ordered (device, ts, seq) so the one index that enforces
      // idempotency also serves per-device time-range reads: one btree per row written, not two.
      `CREATE TABLE readings (
        device_id text NOT NULL,
        seq bigint NOT NULL,
        ts timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        source text NOT NULL,
        data jsonb NOT NULL,
        PRIMARY KEY (device_id, ts, seq)
      ) PARTITION BY RANGE (ts)`,
      // Device '' holds the invalid counts of dead letters whose device is unknown.
      `CREATE TABLE minute_buckets (
        device_id text NOT NULL,
        minute timestamptz NOT NULL,
        valid bigint NOT NULL DEFAULT 0,
        invalid bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (device_id, minute)
      )`,
      `CREATE TABLE minute_metrics (
        device_id text NOT NULL,
        minute timestamptz NOT NULL,
        metric text NOT NULL,
        min double precision NOT NULL,
        max double precision NOT NULL,
        sum double precision NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (device_id, minute, metric)
      )`,
      `CREATE TABLE dead_letters (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL,
        reason text NOT NULL,
        source text NOT NULL,
        peer text NOT NULL,
        device_id text,
        detail text NOT NULL,
        raw bytea NOT NULL,
        truncated boolean NOT NULL
      )`,
      `CREATE INDEX dead_letters_received_at_idx ON dead_letters (received_at)`,
      `CREATE INDEX dead_letters_reason_received_at_idx ON dead_letters (reason, received_at)`,
    ],
  },
  {
    version: 2,
    name: 'API accounts',
    statements: [
      // password_hash is self-describing (scheme, cost parameters, salt, hash): see http/password-hash.ts.
      `CREATE TABLE users (
        id bigserial PRIMARY KEY,
        username text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
        created_at timestamptz NOT NULL DEFAULT now(),
        disabled boolean NOT NULL DEFAULT false
      )`,
    ],
  },
  {
    version: 3,
    name: 'device registry, API keys, dead-letter re-drive',
    statements: [
      `CREATE TABLE devices (
        id text PRIMARY KEY,
        name text,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
      )`,
      // secret_sealed is the device secret under the master key (registry/secret-sealer.ts); the plain
      // secret is never stored. expires_at is set when a rotation superseded the key.
      `CREATE TABLE device_keys (
        key_id text PRIMARY KEY,
        device_id text NOT NULL REFERENCES devices (id),
        secret_sealed bytea NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz,
        revoked_at timestamptz
      )`,
      `CREATE INDEX device_keys_device_idx ON device_keys (device_id)`,
      // secret_sha256 of a 256-bit random secret: enough to verify, useless to an attacker who reads it.
      `CREATE TABLE api_keys (
        id text PRIMARY KEY,
        name text NOT NULL,
        scopes text[] NOT NULL,
        secret_sha256 bytea NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        last_used_at timestamptz
      )`,
      // One row whose version every registry write bumps; hubs poll it to reload keys.
      `CREATE TABLE registry_state (
        id integer PRIMARY KEY CHECK (id = 1),
        version bigint NOT NULL
      )`,
      `INSERT INTO registry_state (id, version) VALUES (1, 0)`,
      `ALTER TABLE dead_letters ADD COLUMN redriven_at timestamptz, ADD COLUMN redrive_outcome text`,
    ],
  },
  {
    version: 4,
    name: 'rollup journal, per-reason reject counts',
    statements: [
      // One row per commit holding that commit's minute deltas (store/journal-codec.ts); folded into the
      // rollup tables and deleted in one transaction by the periodic flush (store/rollup-journal.ts).
      `CREATE TABLE rollup_pending (
        id bigserial PRIMARY KEY,
        deltas json NOT NULL
      )`,
      // Refusals per reason and minute, so per-reason counts survive restarts. device_id '' = unknown.
      `CREATE TABLE minute_rejects (
        device_id text NOT NULL,
        minute timestamptz NOT NULL,
        reason text NOT NULL,
        count bigint NOT NULL,
        PRIMARY KEY (device_id, minute, reason)
      )`,
      // Journal rows a flush could not decode (written by another version, or damaged): kept for an
      // operator instead of blocking every later flush. Their counts are not in the rollups.
      `CREATE TABLE rollup_quarantine (
        id bigint PRIMARY KEY,
        deltas text NOT NULL,
        error text NOT NULL,
        quarantined_at timestamptz NOT NULL DEFAULT now()
      )`,
      // Earlier refusals are known only through the dead letters still kept: a lower bound.
      `INSERT INTO minute_rejects (device_id, minute, reason, count)
        SELECT coalesce(device_id, ''), date_trunc('minute', received_at), reason, count(*)
        FROM dead_letters GROUP BY 1, 2, 3`,
    ],
  },
  {
    version: 5,
    name: 'XRayIOT signal summaries, string device credentials',
    statements: [
      // One row per XRayIOT signal stored (ingest/xray/xray-signal.ts): a resend of the same payload for
      // the same device and time is the same signal (ON CONFLICT DO NOTHING).
      `CREATE TABLE xray_signals (
        id bigserial PRIMARY KEY,
        device_id text NOT NULL,
        signal_time timestamptz NOT NULL,
        payload_sha256 bytea NOT NULL,
        captured_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        data_length integer NOT NULL,
        data_volume integer NOT NULL,
        format text NOT NULL,
        source text NOT NULL,
        correlation_id text,
        UNIQUE (device_id, signal_time, payload_sha256)
      )`,
      `CREATE INDEX xray_signals_device_id_idx ON xray_signals (device_id, id)`,
      // 'raw': secret_sealed holds the 32-byte device secret; 'utf8': the UTF-8 bytes of a string HMAC
      // secret (XRayIOT's HMAC_SECRET), whose frame secret is their SHA-256.
      `ALTER TABLE device_keys ADD COLUMN secret_kind text NOT NULL DEFAULT 'raw'`,
    ],
  },
  {
    version: 6,
    name: 'metric names per device',
    statements: [
      // Every metric name each device has, so the bound on metrics per device (pipeline/metric-bound.ts)
      // and the series' metric pages know them without scanning minute_metrics. Fed by every rollup fold.
      `CREATE TABLE device_metrics (
        device_id text NOT NULL,
        metric text NOT NULL,
        PRIMARY KEY (device_id, metric)
      )`,
      `INSERT INTO device_metrics (device_id, metric) SELECT DISTINCT device_id, metric FROM minute_metrics`,
    ],
  },
  {
    version: 7,
    name: 'one re-drive of a dead letter at a time',
    statements: [
      // Set while a re-drive of the letter runs (registry-store.ts claimRedrive), so a second one at the
      // same moment, from this hub or another, is refused; a lease, so a hub that dies mid-way blocks
      // nothing for long.
      `ALTER TABLE dead_letters ADD COLUMN redrive_claimed_until timestamptz`,
    ],
  },
];
