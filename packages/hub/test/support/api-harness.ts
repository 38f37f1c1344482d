/**
 * A real HTTP app (listening on 127.0.0.1, ephemeral port) over a real migrated store (PGlite in a temp
 * dir, or a fresh schema on the local PostgreSQL server), with one account per role and their tokens.
 * Collects every registered route through the app's onRoute option.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { LiveStats } from '@sealstream/protocol';
import { buildHttpApp } from '../../src/http/http-app.js';
import { hashPassword } from '../../src/http/password-hash.js';
import { signalStoreFor, openStore, type SqlReadingStore } from '../../src/store/index.js';
import type { Role } from '../../src/store/accounts.js';
import { dropTestSchema, pgTestUrl, uniqueTestSchema } from './postgres.js';
import { openRegistryFixture, type RegistryFixture } from './registry-fixture.js';

export const HARNESS_JWT_SECRET = 'harness-jwt-secret-that-is-long-enough-0123456789';
export const ROLE_PASSWORD = 'correct horse battery staple';
export const ROLES_LOW_TO_HIGH: readonly Role[] = ['viewer', 'operator', 'admin'];

export const FIXED_STATS: LiveStats = {
  totalReceived: 10,
  totalValid: 9,
  totalInvalid: 1,
  totalDuplicate: 0,
  successRate: 90,
  readingsPerSec: 1.5,
  rejectsPerSec: 0,
  rejectsByReason: { integrity_failed: 1 },
  at: 1_700_000_000_000,
};

export interface ApiHarness {
  readonly base: string;
  readonly app: FastifyInstance;
  readonly store: SqlReadingStore;
  /** The registry, API keys and a pipeline over the same store, as the hub wires them. */
  readonly registry: RegistryFixture;
  /** Method and URL (Fastify syntax) of every route registered. */
  readonly routes: ReadonlyArray<{ method: string; url: string }>;
  readonly tokens: Readonly<Record<Role, string>>;
  readonly userIds: Readonly<Record<Role, string>>;
  login(username: string, password: string): Promise<Response>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly openDashboardReads?: boolean;
  readonly tokenTtlSeconds?: number;
  readonly bodyLimitBytes?: number;
  /** Default: limits high enough that only the rate-limit tests meet them. */
  readonly rateLimits?: { apiPerWindow: number; loginPerWindow: number; windowMs: number } | null;
  readonly corsOrigins?: readonly string[];
  readonly exportTickets?: { ttlMs?: number; maxOutstanding?: number; maxPerOwner?: number; now?: () => number };
  /** Default: a silent pino logger. */
  readonly logger?: FastifyBaseLogger;
  /** A folder to serve as the built dashboard; default none. */
  readonly dashboardDir?: string;
  /** The store's read budget (postgres: also the read pool); default the store's own. */
  readonly storeReads?: { poolSize?: number; maxWaiting?: number; maxWaitMs?: number; timeoutMs?: number };
  /** Awaited at the start of each re-drive (after its claim): lets a test hold one in flight. */
  readonly beforeRedrive?: () => Promise<void>;
}

export async function startApiHarness(
  kind: 'pglite' | 'postgres',
  { storeReads, beforeRedrive, ...options }: HarnessOptions = {},
): Promise<ApiHarness> {
  let dataDir: string | undefined;
  let schema: string | undefined;
  let store: SqlReadingStore;
  if (kind === 'pglite') {
    dataDir = await mkdtemp(join(tmpdir(), 'sealstream-api-'));
    store = await openStore({ kind: 'pglite', dataDir, ...(storeReads === undefined ? {} : { reads: storeReads }) });
  } else {
    schema = uniqueTestSchema();
    store = await openStore({
      kind: 'postgres',
      url: pgTestUrl(),
      schema,
      poolSize: 2,
      ...(storeReads === undefined ? {} : { reads: storeReads }),
    });
  }
  await store.migrate();
  const registry = await openRegistryFixture(store);
  const routes: Array<{ method: string; url: string }> = [];
  const app = await buildHttpApp({
    logger: options.logger ?? pino({ level: 'silent' }),
    store,
    accounts: store,
    queries: store,
    rateLimits: { apiPerWindow: 100_000, loginPerWindow: 10_000, windowMs: 60_000 },
    stats: () => FIXED_STATS,
    metricsRegistry: new Registry(),
    jwtSecret: HARNESS_JWT_SECRET,
    dashboardDir: undefined,
    isReady: () => true,
    ingest: {
      pipeline: registry.pipeline,
      keys: registry.keys,
      storeSignalSummaries: true,
    },
    signals: signalStoreFor(store),
    admin: {
      devices: registry.devices,
      apiKeys: registry.apiKeys,
      redrive: {
        findDeadLetter: (id) => registry.registryStore.findDeadLetter(id),
        markRedriven: (id, outcome, at) => registry.registryStore.markRedriven(id, outcome, at),
        claimRedrive: (id, at, leaseMs) => registry.registryStore.claimRedrive(id, at, leaseMs),
        releaseRedrive: (id) => registry.registryStore.releaseRedrive(id),
        redrive: async (letter) => {
          await beforeRedrive?.();
          return registry.pipeline.redrive(letter);
        },
      },
    },
    onRoute: (route) => {
      for (const method of [route.method].flat()) routes.push({ method, url: route.url });
    },
    ...options,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const login = (username: string, password: string): Promise<Response> =>
    fetch(`${base}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
  const tokens: Partial<Record<Role, string>> = {};
  const userIds: Partial<Record<Role, string>> = {};
  // Cheap cost parameters for the seeded accounts keep the suite fast; verification reads them from the hash.
  const passwordHash = await hashPassword(ROLE_PASSWORD, { N: 1024, r: 8, p: 1 });
  for (const role of ROLES_LOW_TO_HIGH) {
    const created = await store.createUser({ username: `${role}-user`, role, passwordHash });
    if (!created.ok) throw new Error('harness: could not create a user');
    userIds[role] = created.user.id;
    const answer = (await (await login(`${role}-user`, ROLE_PASSWORD)).json()) as { token: string };
    tokens[role] = answer.token;
  }
  return {
    base,
    app,
    store,
    registry,
    routes,
    tokens: tokens as Record<Role, string>,
    userIds: userIds as Record<Role, string>,
    login,
    async stop() {
      await app.close();
      await registry.pipeline.close();
      await store.close();
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
      if (schema !== undefined) await dropTestSchema(schema);
    },
  };
}

/** fetch with an optional bearer token and JSON body. */
export async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; apiKey?: string; body?: unknown } = {},
): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`;
  if (options.apiKey !== undefined) headers['x-api-key'] = options.apiKey;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (metrics, the root page): keep the text.
  }
  return { status: response.status, body, headers: response.headers };
}
