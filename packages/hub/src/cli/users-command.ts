/**
 * `sealstream users add --username U --role R [--password-stdin]`: creates an API account directly in
 * the store, which is how the first admin of a non-demo hub comes to exist. Without --password-stdin a
 * password is generated and printed once. Reads the same store settings as `serve` (flags or env).
 * For PGlite, stop the hub first: the embedded database has one process at a time.
 */
import { parseArgs } from 'node:util';
import type { Env } from '../config/load-config.js';
import { generatePassword, hashPassword, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS } from '../http/password-hash.js';
import { ROLES, type Role } from '../store/accounts.js';
import { openAndMigrate } from './store-start-errors.js';

export interface UsersCommandIo {
  /** The whole of standard input (only read with --password-stdin). */
  readStdin(): Promise<string>;
  print(line: string): void;
  printError(line: string): void;
}

const USERNAME = /^[A-Za-z0-9._-]{3,64}$/;

export function usersHelpText(): string {
  return [
    'Usage: sealstream users add --username <name> --role admin|operator|viewer [--password-stdin]',
    '',
    '  --username <name>     3-64 of A-Z a-z 0-9 . _ -',
    '  --role <role>         admin (manages users), operator (manages devices) or viewer (reads)',
    `  --password-stdin      read the password (at least ${MIN_PASSWORD_CHARS} characters) from standard input;`,
    '                        without it a random password is generated and printed once',
    '  --data-dir / SEALSTREAM_DATA_DIR, --database-url / DATABASE_URL, --database-schema /',
    '  SEALSTREAM_DATABASE_SCHEMA select the store exactly as for `serve`. Stop a PGlite hub first.',
  ].join('\n');
}

export async function runUsersCommand(argv: readonly string[], env: Env, io: UsersCommandIo): Promise<number> {
  const [action, ...rest] = argv;
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (action === undefined || action === '--help' || action === '-h' || action === 'help' || wantsHelp) {
    io.print(usersHelpText());
    return 0;
  }
  if (action !== 'add') {
    io.printError(`sealstream users: unknown action "${action}"\n\n${usersHelpText()}`);
    return 2;
  }
  let values;
  try {
    values = parseArgs({
      args: [...rest],
      options: {
        username: { type: 'string' },
        role: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        'data-dir': { type: 'string' },
        'database-url': { type: 'string' },
        'database-schema': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (error) {
    io.printError(`sealstream users add: ${(error as Error).message}`);
    return 2;
  }
  const { username, role } = values;
  if (username === undefined || !USERNAME.test(username)) {
    io.printError('sealstream users add: --username must be 3-64 of A-Z a-z 0-9 . _ -');
    return 2;
  }
  if (role === undefined || !(ROLES as readonly string[]).includes(role)) {
    io.printError('sealstream users add: --role must be admin, operator or viewer');
    return 2;
  }
  let password: string;
  const generated = values['password-stdin'] !== true;
  if (generated) {
    password = generatePassword();
  } else {
    password = (await io.readStdin()).replace(/\r?\n$/, '');
    if (password.length < MIN_PASSWORD_CHARS || password.length > MAX_PASSWORD_CHARS) {
      io.printError(
        `sealstream users add: the password must be ${MIN_PASSWORD_CHARS} to ${MAX_PASSWORD_CHARS} characters`,
      );
      return 2;
    }
  }

  const databaseUrl = values['database-url'] ?? nonEmpty(env['DATABASE_URL']);
  const schema = values['database-schema'] ?? nonEmpty(env['SEALSTREAM_DATABASE_SCHEMA']);
  const options =
    databaseUrl !== undefined
      ? { kind: 'postgres' as const, url: databaseUrl, poolSize: 1, ...(schema === undefined ? {} : { schema }) }
      : { kind: 'pglite' as const, dataDir: values['data-dir'] ?? nonEmpty(env['SEALSTREAM_DATA_DIR']) ?? 'data' };
  const store = await openAndMigrate(options, options);
  try {
    const created = await store.createUser({
      username,
      role: role as Role,
      passwordHash: await hashPassword(password),
    });
    if (!created.ok) {
      io.printError(`sealstream users add: a user named "${username}" already exists`);
      return 1;
    }
    io.print(`created ${role} "${username}" (id ${created.user.id})`);
    if (generated) io.print(`password (shown only now): ${password}`);
    return 0;
  } finally {
    await store.close();
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
