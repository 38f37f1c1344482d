/**
 * Reads the shell commands the documentation shows: README.md and docs/*.md, fenced `sh` blocks (with
 * their `\` continuations joined) and inline code spans. The docs tests check and run what a reader
 * would copy, so a renamed flag or a rotted example fails a test instead of a new user.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const LAUNCHER = join(REPO_ROOT, 'bin/sealstream.js');

export interface DocBlock {
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly text: string;
}

export function docFiles(): string[] {
  const docs = readdirSync(join(REPO_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs];
}

export function codeBlocks(file: string): DocBlock[] {
  const lines = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n');
  const blocks: DocBlock[] = [];
  let open: { line: number; lang: string; body: string[] } | null = null;
  lines.forEach((text, index) => {
    const fence = /^\s*```(\w*)/.exec(text);
    if (fence !== null) {
      if (open === null) open = { line: index + 1, lang: fence[1] ?? '', body: [] };
      else {
        blocks.push({ file, line: open.line, lang: open.lang, text: open.body.join('\n') });
        open = null;
      }
      return;
    }
    open?.body.push(text.replace(/^ {2}/, ''));
  });
  return blocks;
}

/** A documented invocation of the CLI: where, the subcommand and the flags it uses. */
export interface DocCommand {
  readonly where: string;
  readonly text: string;
  readonly inCodeBlock: boolean;
  /** `sealstream <sub>` (`npm run emit --` is emit, `npm start` is serve). */
  readonly sub: string;
  readonly flags: readonly string[];
}

/** Shell lines of a block: comments dropped, `\` continuations joined. */
export function shellLines(text: string): string[] {
  const joined = text.replace(/\\\n\s*/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.replace(/(^|\s)#\s.*$/, '').trim())
    .filter((line) => line !== '');
}

const INVOCATION = /(?:^|[\s|;(&`])(?:npx\s+)?sealstream\s+([a-z-]+)([^|;&`)]*)|npm run emit --([^|;&`)]*)/g;

function commandsIn(text: string, where: string, inCodeBlock: boolean): DocCommand[] {
  const found: DocCommand[] = [];
  for (const match of text.matchAll(INVOCATION)) {
    const sub = match[1] ?? 'emit';
    const rest = match[2] ?? match[3] ?? '';
    const flags = [...rest.matchAll(/(?:^|\s)(--[a-z][a-z0-9-]*)/g)].map((flag) => flag[1] ?? '');
    found.push({ where, text: match[0].trim(), inCodeBlock, sub, flags });
  }
  return found;
}

export function documentedCommands(): DocCommand[] {
  const commands: DocCommand[] = [];
  for (const file of docFiles()) {
    for (const block of codeBlocks(file)) {
      if (block.lang !== 'sh' && block.lang !== 'bash') continue;
      for (const line of shellLines(block.text)) commands.push(...commandsIn(line, `${file}:${block.line}`, true));
    }
    const prose = readFileSync(join(REPO_ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
    for (const span of prose.matchAll(/`([^`\n]+)`/g)) {
      const code = span[1] ?? '';
      if (/^(npx )?sealstream [a-z-]/.test(code)) commands.push(...commandsIn(code, `${file} (inline)`, false));
    }
  }
  return commands;
}

/** The fenced `sh` block of `file` that contains `marker`; throws when there is none (the doc changed). */
export function blockContaining(file: string, marker: string): DocBlock {
  const block = codeBlocks(file).find((candidate) => candidate.text.includes(marker));
  if (block === undefined) throw new Error(`${file} has no code block containing ${JSON.stringify(marker)}`);
  return block;
}
