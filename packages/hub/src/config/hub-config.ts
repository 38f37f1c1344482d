/** The hub's validated, frozen configuration: the shape every module is wired from. */
import type { LegacyHashVariant } from '@sealstream/protocol';

export interface DeviceKeyConfig {
  readonly keyId: string;
  readonly secret: Buffer;
  /** A string credential's UTF-8 bytes (its HMAC key); `secret` is then their SHA-256. */
  readonly hmacSecret?: Buffer;
  readonly devices: 'any' | readonly string[];
}

/** The parts of the hub a scaled-out process runs (docs/scale-out.md). */
export type HubRole = 'gateway' | 'writer' | 'api';

export interface HubConfig {
  /**
   * `all`: today's single process (every part, no bus). Otherwise the roles this process runs, joined
   * by the RabbitMQ bus (`amqp.url`) and Redis (`redis`).
   */
  readonly role: 'all' | readonly HubRole[];
  /** This process's name in heartbeats, metrics labels, /healthz and the broker's connection list. */
  readonly instance: string;
  /** The bus between gateways and writers (used only when `role` is not `all`). */
  readonly bus: {
    readonly partitions: number;
    /** Exchange and queue name prefix; several clusters (or test runs) can share a vhost. */
    readonly prefix: string;
    /** Bound of each partition queue; beyond it gateways' publishes are refused (backpressure). */
    readonly maxQueueBytes: number;
  };
  /**
   * Redis shared by several hubs (replay and nonce windows, rate limits, export links, login failures,
   * cluster heartbeats); null: all of it in this process's memory (one hub).
   */
  readonly redis: { readonly url: string; readonly keyPrefix: string } | null;
  readonly demo: boolean;
  readonly host: string;
  readonly httpPort: number;
  /** null disables the listener. */
  readonly tcpPort: number | null;
  readonly legacyPort: number | null;
  /** A port serving only /healthz and /metrics (monitoring that a flood of the HTTP port cannot shut out); null: off. */
  readonly monitorPort: number | null;
  readonly store:
    | {
        readonly kind: 'pglite';
        readonly dataDir: string;
        readonly thread: 'worker' | 'main';
        /** Worker thread: a PGlite call unanswered this long stops the embedded store (see operations.md). */
        readonly callTimeoutMs: number;
      }
    | {
        readonly kind: 'postgres';
        readonly url: string;
        readonly schema: string | undefined;
        readonly poolSize: number;
      };
  readonly deviceKeys: readonly DeviceKeyConfig[];
  readonly legacy: {
    readonly encryptionKey: string;
    readonly authToken: string;
    /** Accepted beside authToken; demo mode only (the seed's example token and the old demo token). */
    readonly extraAuthTokens: readonly string[];
    readonly device: string;
    readonly acceptVariants: readonly LegacyHashVariant[];
  } | null;
  readonly limits: {
    readonly maxFrameBytes: number;
    readonly maxReadingsPerFrame: number;
    readonly maxLineBytes: number;
    /** Tokens one legacy DATA line may carry; a line with more is refused whole, unopened. */
    readonly maxTokensPerLine: number;
    readonly maxBatchRows: number;
    readonly maxQueuedRows: number;
    readonly commitConcurrency: number;
    /** A second concurrent commit starts only when at least this many rows wait. */
    readonly commitParallelMinRows: number;
    /** How often the rollup journal is folded into the minute rollups (reads fold first anyway). */
    readonly rollupFlushMs: number;
    readonly commitRetryDeadlineMs: number;
    readonly maxClockSkewMs: number;
    readonly maxReadingAgeMs: number;
    readonly maxReadingFutureMs: number;
    readonly idleTimeoutMs: number;
    readonly partialFrameTimeoutMs: number;
    /**
     * A legacy connection with no bytes at all for this long is closed (the seed protocol has no heartbeat,
     * so this is longer than the native idle timeout).
     */
    readonly legacyIdleTimeoutMs: number;
    /** Worker threads opening legacy lines; 0 opens them on the event loop. */
    readonly legacyWorkers: number;
    /** Longest a client may take to send one HTTP request, headers and body. */
    readonly httpRequestTimeoutMs: number;
    /** Open connections per TCP listener (native, legacy, HTTP each); new ones beyond are closed at once. */
    readonly maxConnectionsPerListener: number;
    /** Open connections one client address (IPv6: one /64) may hold on each listener. */
    readonly maxConnectionsPerAddress: number;
    readonly deadLetterRawBytes: number;
    readonly deadLettersPerSecond: number;
    /** Dead letters the store keeps at most (all hubs on a database together); the oldest go first. */
    readonly deadLetterMaxRows: number;
    /** Dead letters received longer ago than this are deleted; null: no age bound (the row bound still holds). */
    readonly deadLetterMaxAgeMs: number | null;
    readonly maxInFlightFramesPerConnection: number;
    /** Legacy DATA lines per connection opened but not yet committed before the socket is paused. */
    readonly maxInFlightLinesPerConnection: number;
  };
  readonly live: {
    readonly tickMs: number;
    readonly token: string | undefined;
    /** No handshake check at all (demo default; the seed's dashboard cannot authenticate). */
    readonly public: boolean;
  };
  readonly api: {
    /** HS256 secret for API tokens; undefined only in demo mode, where the hub generates one per start. */
    readonly jwtSecret: string | undefined;
    readonly tokenTtlSeconds: number;
    /** Token refreshes extend one sign-in by at most this long. */
    readonly maxSessionHours: number;
    /** Per account (or client address without a token), per minute, on /api routes. */
    readonly apiRequestsPerMinute: number;
    /** Per client address, per minute, on the login route. */
    readonly loginAttemptsPerMinute: number;
    /** Per API key, per minute, on /api routes. */
    readonly apiKeyRequestsPerMinute: number;
    /** Browser origins allowed to call the API (CORS); empty: same origin only. */
    readonly corsOrigins: readonly string[];
  };
  readonly registry: {
    /** 32-byte key sealing device secrets at rest; undefined: the registry cannot issue keys. */
    readonly masterKey: Buffer | undefined;
    /** Demo mode without a master key: keep one in this file (created on first start). */
    readonly masterKeyFile: string | undefined;
    readonly rotationOverlapMs: number;
    /** How often to look for registry changes made by other hubs. */
    readonly refreshMs: number;
  };
  readonly ingest: {
    /** HTTP ingest requests per device (or key id) per minute. */
    readonly requestsPerDevicePerMinute: number;
    /** Accepted clock difference of signed HTTP requests. */
    readonly signatureToleranceMs: number;
    /** HS256 secret of the InsightHub clients' JWT bearers on POST /ingest; undefined: JWT bearers refused. */
    readonly jwtSecret: string | undefined;
  };
  /** XRayIOT's producer over RabbitMQ (ingest/amqp); null or absent: off. */
  readonly amqp?: {
    /** Holds the broker password: never logged. */
    readonly url: string;
    /** Unacknowledged messages the broker may hand the hub at once. */
    readonly prefetch: number;
    /** How long a message the hub could not take now waits in the retry queue. */
    readonly retryDelayMs: number;
    /** Body bytes of messages in hand (taken, not settled) past which the consumer pauses. */
    readonly maxInHandBytes: number;
  } | null;
  /** The API's read budget (store/read-budget.ts); on a PostgreSQL server also the read pool. */
  readonly reads: {
    /** PostgreSQL: connections of the read pool, beside `store.poolSize` for writes; reads running at once. */
    readonly poolSize: number;
    /** Reads waiting for a slot at most; beyond, 503 reads_busy. */
    readonly maxWaiting: number;
    /** Longest a read waits for a slot before 503 reads_busy. */
    readonly maxWaitMs: number;
    /** PostgreSQL: statement_timeout of the read pool. */
    readonly timeoutMs: number;
  };
  /** Distinct metric names one device may have; a reading adding one beyond is refused `too_many_metrics`. */
  readonly maxMetricsPerDevice: number;
  readonly logLevel: string;
  /**
   * Longest an orderly shutdown (commit what is queued, a bounded last fold, close the store) may take
   * before the process exits anyway with code 1.
   */
  readonly shutdownTimeoutMs: number;
  /** MQTT ingest through a broker; null: off. */
  readonly mqtt: {
    readonly url: string;
    /** Base of the hub's client ids (`<clientId>-<n>`); stable across restarts so sessions persist. */
    readonly clientId: string;
    /** Shared-subscription group: hubs of one group split the messages. */
    readonly group: string;
    readonly topicPrefix: string;
    /** Broker connections, and so messages in flight, per hub. */
    readonly connections: number;
    readonly receiveMaximum: number;
    readonly framesPerMessage: number;
  } | null;
  readonly demoDevices: { readonly count: number; readonly rate: number; readonly legacyIntervalMs: number };
}
