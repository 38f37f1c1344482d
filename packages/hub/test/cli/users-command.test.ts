import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsersCommand } from '../../src/cli/users-command.js';
import { verifyPassword } from '../../src/http/password-hash.js';
import { openStore } from '../../src/store/index.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sealstream-users-'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function io(stdin = ''): { out: string[]; err: string[]; io: Parameters<typeof runUsersCommand>[2] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { readStdin: async () => stdin, print: (line) => out.push(line), printError: (line) => err.push(line) },
  };
}

describe('sealstream users add', () => {
  it('creates the first admin with a generated password printed once, usable to log in', async () => {
    const run = io();
    const code = await runUsersCommand(
      ['add', '--username', 'root-admin', '--role', 'admin', '--data-dir', dataDir],
      {},
      run.io,
    );
    expect(code, run.err.join('\n')).toBe(0);
    const password = /password \(shown only now\): (\S+)/.exec(run.out.join('\n'))?.[1];
    expect(password).toBeDefined();
    const store = await openStore({ kind: 'pglite', dataDir });
    try {
      const user = await store.findUserByName('root-admin');
      expect(user?.role).toBe('admin');
      expect(await verifyPassword(password ?? '', user?.passwordHash ?? '')).toBe(true);
      expect(user?.passwordHash).not.toContain(password ?? '');
    } finally {
      await store.close();
    }
  });

  it('takes the password from stdin and never prints it; refuses a duplicate and a bad role', async () => {
    const secret = 'a-password-from-stdin';
    const run = io(`${secret}\n`);
    expect(
      await runUsersCommand(
        ['add', '--username', 'ops', '--role', 'operator', '--password-stdin', '--data-dir', dataDir],
        {},
        run.io,
      ),
    ).toBe(0);
    expect(run.out.join('\n')).not.toContain(secret);
    const again = io(`${secret}\n`);
    expect(
      await runUsersCommand(
        ['add', '--username', 'ops', '--role', 'viewer', '--password-stdin'],
        { SEALSTREAM_DATA_DIR: dataDir },
        again.io,
      ),
    ).toBe(1);
    const badRole = io();
    expect(
      await runUsersCommand(['add', '--username', 'x-user', '--role', 'root', '--data-dir', dataDir], {}, badRole.io),
    ).toBe(2);
    const shortPassword = io('short\n');
    expect(
      await runUsersCommand(
        ['add', '--username', 'y-user', '--role', 'viewer', '--password-stdin', '--data-dir', dataDir],
        {},
        shortPassword.io,
      ),
    ).toBe(2);
  });
});
