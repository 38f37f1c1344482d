/**
 * HTTP ingest over real parts: the real HTTP app (buildHttpApp) with the ingest routes registered,
 * listening on 127.0.0.1 (ephemeral port), a real Pipeline over a real migrated PGlite store in a temp
 * dir, and a StaticKeyring. The pipeline's store can be held: commits wait until released, which makes
 * the commit queue fill for real (saturation and overload tests).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { buildHttpApp } from '../../src/http/http-app.js';
import { registerIngestRoutes, type IngestRouteOptions } from '../../src/ingest/http/ingest-routes.js';
import { createMetrics, type HubMetrics } from '../../src/observability/metrics.js';
import { StaticKeyring, type KeySpec } from '../../src/pipeline/keyring.js';
import { Pipeline, type PipelineLimits } from '../../src/pipeline/pipeline.js';
import type { DeadLetterRow, ReadingStore, StoredReading } from '../../src/pipeline/ports.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';

export const INGEST_JWT_SECRET = 'ingest-harness-jwt-secret-long-enough-0123456789';

export const DEFAULT_TEST_LIMITS: PipelineLimits = {
  maxClockSkewMs: 300_000,
  maxReadingAgeMs: 86_400_000,
  maxReadingFutureMs: 300_000,
  maxReadingsPerFrame: 10_000,
  maxBatchRows: 10_000,
  maxQueuedRows: 100_000,
  highWaterRows: 50_000,
  commitConcurrency: 1,
  commitRetryDeadlineMs: 5_000,
  replayWindowMaxEntries: 100_000,
  deadLetters: { maxRawBytes: 4096, maxPerSecond: 10_000 },
};

export interface IngestHarnessOptions {
  readonly keys: readonly KeySpec[];
  readonly limits?: Partial<PipelineLimits>;
  readonly ingest?: Omit<IngestRouteOptions, 'pipeline' | 'keys'>;
  /** The API's own per-address limits (default: off, as the ingest routes opt out of them anyway). */
  readonly apiRateLimits?: { apiPerWindow: number; loginPerWindow: number; windowMs: number } | null;
}

export interface IngestHarness {
  readonly base: string;
  readonly app: FastifyInstance;
  readonly store: SqlReadingStore;
  readonly pipeline: Pipeline;
  readonly metrics: HubMetrics;
  readonly routes: ReadonlyArray<{ method: string; url: string }>;
  /** Commits wait from now on until release() is called. */
  hold(): void;
  release(): void;
  /** Commits started so far (held ones included). */
  readonly commitsStarted: () => number;
  readings(device: string): Promise<StoredReading[]>;
  /** Dead letters of a reason, waiting (bounded) until at least `atLeast` are committed. */
  deadLetters(reason: string, atLeast?: number): Promise<DeadLetterRow[]>;
  stop(): Promise<void>;
}

export async function startIngestHarness(options: IngestHarnessOptions): Promise<IngestHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sealstream-ingest-'));
  const store = await openStore({ kind: 'pglite', dataDir });
  await store.migrate();
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let started = 0;
  const heldStore: ReadingStore = {
    kind: store.kind,
    migrate: () => store.migrate(),
    async commit(batch) {
      started += 1;
      if (gate !== undefined) await gate;
      return store.commit(batch);
    },
    totals: () => store.totals(),
    rejectTotals: () => store.rejectTotals(),
    recentDeadLetters: (limit) => store.recentDeadLetters(limit),
    minuteBuckets: (device, from, to) => store.minuteBuckets(device, from, to),
    readings: (device, from, to, limit) => store.readings(device, from, to, limit),
    ping: () => store.ping(),
    close: () => store.close(),
  };
  const metrics = createMetrics();
  const keys = new StaticKeyring(options.keys);
  const pipeline = new Pipeline({
    store: heldStore,
    metrics: metrics.pipeline,
    keys,
    limits: { ...DEFAULT_TEST_LIMITS, ...options.limits },
  });
  await pipeline.start();
  const routes: Array<{ method: string; url: string }> = [];
  const app = await buildHttpApp({
    logger: pino({ level: 'silent' }),
    store,
    accounts: store,
    queries: store,
    rateLimits: options.apiRateLimits ?? null,
    stats: () => pipeline.stats(),
    metricsRegistry: metrics.registry,
    jwtSecret: INGEST_JWT_SECRET,
    dashboardDir: undefined,
    isReady: () => true,
    onRoute: (route: RouteOptions) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    },
  });
  registerIngestRoutes(app, { pipeline, keys, ...options.ingest });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const release = (): void => {
    const resolve = open;
    gate = undefined;
    open = undefined;
    resolve?.();
  };

  return {
    base,
    app,
    store,
    pipeline,
    metrics,
    routes,
    hold() {
      if (gate !== undefined) return;
      gate = new Promise<void>((resolve) => {
        open = resolve;
      });
    },
    release,
    commitsStarted: () => started,
    readings: (device) => store.readings(device, 0, Date.now() + 3_600_000, 100_000),
    async deadLetters(reason, atLeast = 1) {
      const deadline = Date.now() + 10_000;
      let letters: DeadLetterRow[] = [];
      while (Date.now() < deadline) {
        letters = (await store.recentDeadLetters(10_000)).filter((letter) => letter.reason === reason);
        if (letters.length >= atLeast) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return letters;
    },
    async stop() {
      release();
      await app.close();
      await pipeline.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The JSON answers of the ingest routes, loosely typed for assertions. */
export interface AnswerBody {
  accepted?: number;
  duplicates?: number;
  rejected?: number;
  frames?: Array<{
    outcome: 'ack' | 'error';
    frameId?: number;
    accepted?: number;
    duplicates?: number;
    rejected?: number;
    reason?: string;
    detail?: string;
    retryable?: boolean;
  }>;
  error?: {
    code: string;
    message: string;
    details?: {
      reason?: string;
      limit?: string;
      max?: number;
      windowMs?: number;
      remaining?: number;
      resetSeconds?: number;
      retryAfterSeconds?: number;
    };
  };
}

/** POST helper: returns status, parsed JSON body (or text) and headers. */
export async function post(
  base: string,
  path: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: AnswerBody; headers: Headers }> {
  const response = await fetch(`${base}${path}`, { method: 'POST', headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed as AnswerBody, headers: response.headers };
}
