/** The accounts part of the SQL store, on PGlite and on the PostgreSQL server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqlReadingStore } from '../../src/store/index.js';
import { pgRequired } from '../support/postgres.js';
import { pgliteDriver, postgresDriver, type StoreDriver } from './store-fixtures.js';

const drivers: StoreDriver[] = [pgliteDriver(), await postgresDriver()];

describe.each(drivers)('accounts on $name', (driver) => {
  if (driver.unavailable !== null && !pgRequired()) {
    it.skip(`skipped: ${driver.unavailable}`, () => undefined);
    return;
  }
  let store: SqlReadingStore;
  beforeAll(async () => {
    await driver.setup();
    store = await driver.open();
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await driver.teardown();
  });

  it('creates, finds, lists, counts and updates users; a taken name is a value, not an exception', async () => {
    expect(await store.countUsers()).toBe(0);
    const made = await store.createUser({ username: 'alice', role: 'viewer', passwordHash: 'scrypt$1$1$1$a$b' });
    if (!made.ok) throw new Error('expected a new user');
    expect(made.user).toMatchObject({ username: 'alice', role: 'viewer', disabled: false });
    expect(made.user.createdAt).toBeGreaterThan(Date.now() - 600_000);
    expect(await store.createUser({ username: 'alice', role: 'admin', passwordHash: 'x' })).toEqual({
      ok: false,
      reason: 'username_taken',
    });
    expect((await store.findUserByName('alice'))?.passwordHash).toBe('scrypt$1$1$1$a$b');
    expect((await store.findUserById(made.user.id))?.username).toBe('alice');
    expect(await store.findUserById('not-a-number')).toBeUndefined();
    expect(await store.findUserByName('nobody')).toBeUndefined();
    const updated = await store.updateUser(made.user.id, { role: 'operator', disabled: true });
    expect(updated).toMatchObject({ role: 'operator', disabled: true });
    expect((await store.findUserById(made.user.id))?.passwordHash).toBe('scrypt$1$1$1$a$b');
    expect(await store.updateUser('424242', { role: 'admin' })).toBeUndefined();
    expect(await store.countUsers()).toBe(1);
    expect((await store.listUsers()).map((u) => u.username)).toEqual(['alice']);
    expect(JSON.stringify(await store.listUsers())).not.toContain('scrypt');
  });

  it('the database refuses a role outside admin, operator, viewer', async () => {
    await expect(store.createUser({ username: 'mallory', role: 'root' as never, passwordHash: 'x' })).rejects.toThrow(
      /store createUser failed/,
    );
  });
});
