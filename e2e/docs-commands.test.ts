/**
 * Every `sealstream …` command the documentation shows exists as written: the subcommand runs, each
 * flag is one the CLI knows (checked against its --help), and code blocks say `npx sealstream`, which
 * works in a checkout after `npm ci` (the root package's bin is a launcher that builds on first use).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentedCommands, LAUNCHER, REPO_ROOT } from './support/doc-commands.js';
import { cliBuilt } from './support/hub-process.js';

if (!cliBuilt && process.env.CI === 'true') throw new Error('the CLI is not built: run npm run build first');
if (!cliBuilt) console.warn('skipping the docs command tests: the build is missing (run npm run build)');

function runCli(args: readonly string[]): { status: number | null; out: string } {
  const result = spawnSync(process.execPath, [LAUNCHER, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, out: `${result.stdout}${result.stderr}` };
}

describe.skipIf(!cliBuilt)('documented sealstream commands', () => {
  const commands = documentedCommands();

  it('finds the documented commands (the extraction itself works)', () => {
    const subs = new Set(commands.map((command) => command.sub));
    for (const sub of ['serve', 'emit', 'users']) expect(subs, [...subs].join(' ')).toContain(sub);
    expect(commands.length).toBeGreaterThan(8);
  });

  it('uses only subcommands and flags the CLI has', () => {
    const helps = new Map<string, string>();
    const problems: string[] = [];
    for (const command of commands) {
      const sub = command.sub === 'users' ? 'users' : command.sub;
      let help = helps.get(sub);
      if (help === undefined) {
        const result = sub.startsWith('--') ? runCli([sub]) : runCli([sub, '--help']);
        if (result.status !== 0)
          problems.push(`${command.where}: "sealstream ${sub}" does not exist (${command.text})`);
        help = result.out;
        helps.set(sub, help);
      }
      for (const flag of command.flags) {
        if (flag === '--help') continue;
        if (!new RegExp(`(^|[\\s,(])${flag}(?![a-z0-9-])`).test(help)) {
          problems.push(`${command.where}: sealstream ${sub} has no flag ${flag} (${command.text})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('writes commands in code blocks so that they run in a checkout (npx sealstream)', () => {
    const bare = commands.filter((command) => command.inCodeBlock && /^sealstream\s/.test(command.text));
    expect(bare.map((command) => `${command.where}: ${command.text}`)).toEqual([]);
  });

  it('answers --version with the product version, through npx as documented', () => {
    const { version } = JSON.parse(readFileSync(join(REPO_ROOT, 'packages/hub/package.json'), 'utf8')) as {
      version: string;
    };
    const npx = spawnSync('npx', ['--no-install', 'sealstream', '--version'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(npx.stderr).toBe('');
    expect(npx.stdout.trim()).toBe(`sealstream ${version}`);
    expect(npx.status).toBe(0);
  });

  it('rejects a flag that does not exist, so the check above can fail', () => {
    const result = runCli(['serve', '--no-such-flag']);
    expect(result.status).not.toBe(0);
    expect(runCli(['serve', '--help']).out).not.toMatch(/--no-such-flag/);
  });
});
