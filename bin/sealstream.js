#!/usr/bin/env node
/**
 * The `sealstream` command of a checkout (`npx sealstream …` after `npm ci`). The real CLI is the
 * hub's build output (packages/hub/dist/cli/main.js), which a fresh checkout does not have yet: when any
 * part of the build is missing this launcher runs `npm run build` once (its output on stderr, so the
 * command's own stdout stays clean for scripts) and then runs the CLI with the same arguments.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/hub/dist/cli/main.js');
// Everything the CLI loads at run time: the hub imports the protocol and emitter builds, and `serve`
// serves the dashboard's.
const outputs = [
  'packages/protocol/dist/index.js',
  'packages/emitter/dist/index.js',
  'packages/hub/dist/cli/main.js',
  'packages/dashboard/dist/index.html',
];
const missing = outputs.filter((path) => !existsSync(join(root, path)));

if (missing.length > 0) {
  process.stderr.write(`sealstream: not built yet (${missing[0]} is missing); running "npm run build" once...\n`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const build = spawnSync(npm, ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0 || !existsSync(cli)) {
    const why = build.error === undefined ? `exit code ${build.status}` : build.error.message;
    process.stderr.write(`sealstream: the build failed (${why}); run "npm run build" in ${root} and read its errors\n`);
    process.exit(1);
  }
}

// The CLI reads process.argv.slice(2), which is the same here: [node, this file, ...arguments].
await import(pathToFileURL(cli).href);
