/** The accounts part of the SQL store, on PGlite and on the PostgreSQL server. */
import { expect, it } from 'vitest';
import { describeEachStore } from './store-fixtures.js';

await describeEachStore('accounts', (ctx) => {
  it('creates, finds, lists, counts and updates users; a taken name is a value, not an exception', async () => {
    expect(await ctx.store.countUsers()).toBe(0);
    const made = await ctx.store.createUser({ username: 'alice', role: 'viewer', passwordHash: 'scrypt$1$1$1$a$b' });
    if (!made.ok) throw new Error('expected a new user');
    expect(made.user).toMatchObject({ username: 'alice', role: 'viewer', disabled: false });
    expect(made.user.createdAt).toBeGreaterThan(Date.now() - 600_000);
    expect(await ctx.store.createUser({ username: 'alice', role: 'admin', passwordHash: 'x' })).toEqual({
      ok: false,
      reason: 'username_taken',
    });
    expect((await ctx.store.findUserByName('alice'))?.passwordHash).toBe('scrypt$1$1$1$a$b');
    expect((await ctx.store.findUserById(made.user.id))?.username).toBe('alice');
    expect(await ctx.store.findUserById('not-a-number')).toBeUndefined();
    expect(await ctx.store.findUserByName('nobody')).toBeUndefined();
    const updated = await ctx.store.updateUser(made.user.id, { role: 'operator', disabled: true });
    expect(updated).toMatchObject({ role: 'operator', disabled: true });
    expect((await ctx.store.findUserById(made.user.id))?.passwordHash).toBe('scrypt$1$1$1$a$b');
    expect(await ctx.store.updateUser('424242', { role: 'admin' })).toBeUndefined();
    expect(await ctx.store.countUsers()).toBe(1);
    expect((await ctx.store.listUsers()).map((u) => u.username)).toEqual(['alice']);
    expect(JSON.stringify(await ctx.store.listUsers())).not.toContain('scrypt');
  });

  it('the database refuses a role outside admin, operator, viewer', async () => {
    await expect(
      ctx.store.createUser({ username: 'mallory', role: 'root' as never, passwordHash: 'x' }),
    ).rejects.toThrow(/store createUser failed/);
  });
});
