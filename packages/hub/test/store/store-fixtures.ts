/**
 * Drivers and data builders shared by the store suites. A driver owns one storage location (a PGlite
 * temp folder or a fresh server schema) and can open any number of stores on it, one after another.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeadLetter, SourceKind, VerifiedReading } from '../../src/pipeline/ports.js';
import { openStore, type SqlReadingStore } from '../../src/store/index.js';
import { dropTestSchema, pgAvailability, pgRequired, pgTestUrl, uniqueTestSchema } from '../support/postgres.js';

export interface StoreDriver {
  readonly name: 'pglite' | 'postgres';
  /** Why the driver cannot run here, or null. */
  readonly unavailable: string | null;
  setup(): Promise<void>;
  open(): Promise<SqlReadingStore>;
  teardown(): Promise<void>;
}

export function pgliteDriver(): StoreDriver {
  let dataDir: string | undefined;
  return {
    name: 'pglite',
    unavailable: null,
    async setup() {
      dataDir = await mkdtemp(join(tmpdir(), 'sealstream-store-'));
    },
    open() {
      if (dataDir === undefined) throw new Error('setup() first');
      return openStore({ kind: 'pglite', dataDir, checkpointIntervalMs: 5_000 });
    },
    async teardown() {
      if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function postgresDriver(): Promise<StoreDriver> {
  const availability = await pgAvailability();
  const schema = uniqueTestSchema();
  let created = false;
  return {
    name: 'postgres',
    unavailable: availability.available ? null : availability.reason,
    async setup() {
      if (!availability.available) throw new Error(availability.reason);
      created = true;
    },
    open() {
      return openStore({ kind: 'postgres', url: pgTestUrl(), schema, poolSize: 4 });
    },
    async teardown() {
      if (created) await dropTestSchema(schema);
    },
  };
}

export interface ReadingSpec {
  readonly device: string;
  readonly seq: number;
  readonly ts: number;
  readonly data?: Record<string, unknown>;
  readonly source?: SourceKind;
  readonly receivedAt?: number;
}

export function reading(spec: ReadingSpec): VerifiedReading {
  return {
    device: spec.device,
    seq: spec.seq,
    ts: spec.ts,
    data: spec.data ?? { v: spec.seq },
    source: spec.source ?? 'tcp',
    receivedAt: spec.receivedAt ?? spec.ts + 5,
  };
}

export function deadLetter(spec: Partial<DeadLetter> & { receivedAt: number }): DeadLetter {
  return {
    reason: 'integrity_failed',
    source: 'tcp',
    peer: '127.0.0.1:50000',
    device: null,
    detail: 'integrity tag mismatch',
    raw: new Uint8Array([1, 2, 3]),
    truncated: false,
    ...spec,
  };
}

/** A device id no other test uses, so tests can share one store. */
let deviceCounter = 0;
export function freshDevice(label: string): string {
  deviceCounter += 1;
  return `${label}-${deviceCounter}`;
}

/** The store under test and the driver that made it; a test may reopen (`ctx.store = await ctx.driver.open()`). */
export interface StoreContext {
  store: SqlReadingStore;
  readonly driver: StoreDriver;
}

/**
 * Runs `body` once per driver — embedded PGlite and the local PostgreSQL server — against a freshly
 * migrated store. A driver that cannot run here is skipped with its reason printed, unless the
 * server is required (CI=true), in which case the suite fails.
 */
export async function describeEachStore(title: string, body: (ctx: StoreContext) => void): Promise<void> {
  const drivers: StoreDriver[] = [pgliteDriver(), await postgresDriver()];
  describe.each(drivers)(`${title} on $name`, (driver) => {
    if (driver.unavailable !== null && !pgRequired()) {
      console.warn(`[store tests] ${title} on ${driver.name} skipped: ${driver.unavailable}`);
      it.skip(`skipped: ${driver.unavailable}`, () => undefined);
      return;
    }
    const ctx = { driver } as StoreContext;
    beforeAll(async () => {
      await driver.setup();
      ctx.store = await driver.open();
      await ctx.store.migrate();
    });
    afterAll(async () => {
      await ctx.store?.close();
      await driver.teardown();
    });
    body(ctx);
  });
}
