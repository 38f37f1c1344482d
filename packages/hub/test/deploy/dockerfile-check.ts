/**
 * Reads a Dockerfile by lines (continuations joined, comments dropped) into stages of instructions, and
 * checks the image's contract: several stages; a final stage that runs as a non-root user, has a
 * HEALTHCHECK that asks /healthz with node, installs no dev dependencies, exposes the documented default
 * ports and sets only documented settings.
 */
import type { DocumentedSettings } from './documented-settings.js';
import { checkHubContainer } from './hub-settings.js';

export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: readonly Instruction[];
}

export function parseDockerfile(text: string): Stage[] {
  const instructions: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return; // comments inside a continued instruction
    if (pending === '') start = index + 1;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      return;
    }
    const whole = (pending + line).trim();
    pending = '';
    const match = /^(\S+)\s*(.*)$/s.exec(whole);
    if (match !== null)
      instructions.push({ keyword: (match[1] ?? '').toUpperCase(), args: match[2] ?? '', line: start });
  });
  const stages: Array<{ from: string; name: string | undefined; instructions: Instruction[] }> = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [from = '', as, name] = instruction.args.split(/\s+/);
      stages.push({ from, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** An exec-form argument list (`["node", "x"]`), or the shell form split on spaces. */
export function execArgs(args: string): string[] {
  const text = args.trim();
  if (text.startsWith('[')) return JSON.parse(text) as string[];
  return text.split(/\s+/).filter((part) => part !== '');
}

/** `ENV A=1 B=2` (or the old `ENV A 1`) -> names and values. */
export function envOf(instruction: Instruction): Map<string, string> {
  const env = new Map<string, string>();
  const pairs = [...instruction.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S*)/g)];
  if (pairs.length === 0) {
    const [name = '', ...rest] = instruction.args.split(/\s+/);
    env.set(name, rest.join(' '));
  }
  for (const [, name = '', value = ''] of pairs) env.set(name, value.replace(/^"|"$/g, ''));
  return env;
}

export interface DockerfileContext {
  readonly documented: DocumentedSettings;
  /** Reads a file of the build context (for the health-check script), undefined when missing. */
  readonly readContextFile: (path: string) => string | undefined;
}

export function checkDockerfile(text: string, context: DockerfileContext): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  const final = stages.at(-1);
  if (stages.length < 2 || final === undefined)
    return ['Dockerfile: not multi-stage (a build stage and a runtime stage)'];
  const all = (keyword: string): Instruction[] => final.instructions.filter((i) => i.keyword === keyword);
  const where = (instruction: Instruction): string => `Dockerfile line ${instruction.line}`;

  const user = all('USER').at(-1);
  if (user === undefined) problems.push('Dockerfile: the final stage sets no USER (it would run as root)');
  else if (/^(root|0)(:|$)/.test(user.args.trim())) problems.push(`${where(user)}: the final stage runs as root`);

  const health = all('HEALTHCHECK').at(-1);
  if (health === undefined || /^NONE\b/i.test(health.args.trim())) {
    problems.push('Dockerfile: the final stage has no HEALTHCHECK');
  } else {
    const cmd = /\bCMD\s+(.*)$/s.exec(health.args)?.[1] ?? '';
    const argv = execArgs(cmd);
    if (argv[0] !== 'node')
      problems.push(`${where(health)}: the HEALTHCHECK should run node (slim images have no curl)`);
    const script = argv.slice(1).find((arg) => /\.(m?js)$/.test(arg));
    const probe = script === undefined ? cmd : (context.readContextFile(script) ?? '');
    if (script !== undefined && !all('COPY').some((copy) => copy.args.includes(script))) {
      problems.push(`${where(health)}: the HEALTHCHECK script ${script} is not copied into the final stage`);
    }
    if (!probe.includes('/healthz')) problems.push(`${where(health)}: the HEALTHCHECK does not ask /healthz`);
  }

  for (const run of all('RUN')) {
    if (/\bnpm\s+(ci|install|i)\b/.test(run.args) && !/--omit[= ]dev\b/.test(run.args)) {
      problems.push(`${where(run)}: the final stage installs dependencies without --omit=dev`);
    }
  }
  for (const copy of all('COPY')) {
    if (copy.args.includes('--from=') && /node_modules/.test(copy.args)) {
      problems.push(`${where(copy)}: the final stage copies node_modules from a build stage (dev dependencies)`);
    }
  }

  const exposed = new Set(
    all('EXPOSE').flatMap((expose) => expose.args.split(/\s+/).map((port) => port.split('/')[0])),
  );
  for (const flag of ['--http-port', '--tcp-port', '--legacy-port']) {
    const port = context.documented.defaults.get(flag);
    if (port === undefined || !exposed.has(port))
      problems.push(`Dockerfile: does not EXPOSE ${flag}'s documented default ${port}`);
  }

  const env = new Map<string, string>();
  for (const instruction of all('ENV')) for (const [name, value] of envOf(instruction)) env.set(name, value);
  const entrypoint = all('ENTRYPOINT').at(-1);
  const command = all('CMD').at(-1);
  const args = [...(entrypoint ? execArgs(entrypoint.args) : []), ...(command ? execArgs(command.args) : [])];
  problems.push(...checkHubContainer({ where: 'Dockerfile final stage', env, args }, context.documented));
  return problems;
}
