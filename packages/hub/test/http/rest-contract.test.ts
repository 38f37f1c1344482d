/**
 * The REST contract (packages/contract) is what the hub really answers: each answer of the routes it
 * covers passes the contract's schema, and the OpenAPI document carries those very schemas.
 */
import { Value } from '@sinclair/typebox/value';
import { TypeRegistry, type TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeadLetterItem, DeviceSummary, Reading, SeriesPoint, Stats, User } from '@sealstream/contract';
import { call, startApiHarness, type ApiHarness } from '../support/api-harness.js';
import { deadLetter, reading } from '../store/store-fixtures.js';

// The contract's string enums are plain `{ type: 'string', enum }` schemas (TypeBox kind Unsafe); checked here.
if (!TypeRegistry.Has('Unsafe')) {
  TypeRegistry.Set<{ enum?: unknown[] }>('Unsafe', (schema, value) => schema.enum?.includes(value) === true);
}

const T0 = Date.UTC(2026, 10, 21, 9, 0, 0);
let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness('pglite');
  await api.store.commit({
    readings: Array.from({ length: 5 }, (_, i) => reading({ device: 'pump-1', seq: i, ts: T0 + i * 10_000 })),
    deadLetters: [deadLetter({ receivedAt: T0 + 1000, reason: 'integrity_failed' })],
  });
});
afterAll(async () => {
  await api?.stop();
});

async function items(path: string): Promise<unknown[]> {
  const answer = await call(api.base, 'GET', path, { token: api.tokens.admin });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  const list = (answer.body as { items?: unknown }).items;
  expect(Array.isArray(list)).toBe(true);
  return list as unknown[];
}

function conforms(schema: TSchema, values: readonly unknown[]): void {
  expect(values.length).toBeGreaterThan(0);
  for (const value of values) expect([...Value.Errors(schema, value)].map((e) => `${e.path} ${e.message}`)).toEqual([]);
}

describe('the REST contract', () => {
  it('matches the answers of devices, readings, series, dead letters, stats and users', async () => {
    conforms(DeviceSummary, await items('/api/v1/devices'));
    conforms(Reading, await items(`/api/v1/devices/pump-1/readings?from=${T0}&to=${T0 + 60_000}`));
    conforms(SeriesPoint, await items(`/api/v1/devices/pump-1/series?width=1m&from=${T0}&to=${T0 + 60_000}`));
    conforms(DeadLetterItem, await items('/api/v1/dead-letters'));
    conforms(User, await items('/api/v1/users'));
    const stats = await call(api.base, 'GET', '/api/v1/stats', { token: api.tokens.viewer });
    conforms(Stats, [stats.body]);
  });

  it('is what the OpenAPI document publishes', async () => {
    const document = (await (await fetch(`${api.base}/openapi.json`)).json()) as {
      components: { schemas: Record<string, unknown> };
    };
    for (const schema of [DeviceSummary, Reading, SeriesPoint, DeadLetterItem, Stats, User]) {
      const id = String(schema.$id);
      const published = document.components.schemas[id] as { properties: object; required: string[] };
      expect(Object.keys(published.properties).sort(), id).toEqual(Object.keys(schema.properties).sort());
      expect([...published.required].sort(), id).toEqual([...(schema.required ?? [])].sort());
    }
  });
});
