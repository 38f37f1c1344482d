/**
 * Checks what one hub container is given — its environment and its command-line arguments — against the
 * documented settings: every variable and flag documented, the role (`--role` / SEALSTREAM_ROLE) a valid
 * one, and the settings a scaled-out role cannot run without present. Shared by the Dockerfile, compose
 * and Kubernetes checks; returns problems as sentences naming the artifact.
 */
import type { DocumentedSettings } from './documented-settings.js';

export const ROLES = ['gateway', 'writer', 'api'] as const;
export type Role = (typeof ROLES)[number];

/** Flags that take no value (everything else in the table takes one). */
const BOOLEAN_FLAGS = new Set(['--demo']);

const DATABASE = { flag: '--database-url', env: 'DATABASE_URL' };
const BUS = { flag: '--amqp-url', env: 'SEALSTREAM_AMQP_URL' };
const REDIS = { flag: '--redis-url', env: 'SEALSTREAM_REDIS_URL' };

/**
 * What each split-out role cannot run without: the server store and the bus (all roles of a cluster
 * share them), and Redis for the windows and limits gateways and api share.
 */
export const REQUIRED_BY_ROLE: Readonly<Record<Role, ReadonlyArray<{ flag: string; env: string }>>> = {
  gateway: [DATABASE, BUS, REDIS],
  writer: [DATABASE, BUS],
  api: [DATABASE, BUS, REDIS],
};

/** Settings that hold passwords, keys or tokens: a Secret's business, never a ConfigMap's or a literal's. */
export const SECRET_SETTINGS = new Set([
  'DATABASE_URL',
  'SEALSTREAM_AMQP_URL',
  'SEALSTREAM_REDIS_URL',
  'SEALSTREAM_MQTT_URL',
  'SEALSTREAM_JWT_SECRET',
  'SEALSTREAM_INGEST_JWT_SECRET',
  'SEALSTREAM_MASTER_KEY',
  'SEALSTREAM_DEVICE_KEYS',
  'SEALSTREAM_LIVE_TOKEN',
  'ENCRYPTION_KEY',
  'AUTH_TOKEN',
]);

export interface HubContainer {
  /** Where it is, for the messages: "compose.yaml service gateway-1". */
  readonly where: string;
  /** Variable -> value; undefined when the value comes from elsewhere (a Secret, the pod's name). */
  readonly env: ReadonlyMap<string, string | undefined>;
  readonly args: readonly string[];
}

/** `--name value` / `--name=value` pairs of an argument list; a flag without a value maps to ''. */
export function flagsOf(args: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(0, eq), arg.slice(eq + 1));
    } else if (BOOLEAN_FLAGS.has(arg) || (args[i + 1] ?? '--').startsWith('--')) {
      flags.set(arg, '');
    } else {
      flags.set(arg, args[i + 1] ?? '');
      i += 1;
    }
  }
  return flags;
}

/** The roles a `--role` value names: `all`, or a comma list of gateway, writer, api. */
export function parseRoles(value: string): { roles: Role[]; invalid: string[] } {
  const parts = value.split(',').map((part) => part.trim());
  if (parts.length === 1 && parts[0] === 'all') return { roles: [...ROLES], invalid: [] };
  const roles: Role[] = [];
  const invalid: string[] = [];
  for (const part of parts) {
    if ((ROLES as readonly string[]).includes(part)) roles.push(part as Role);
    else invalid.push(part);
  }
  return { roles, invalid };
}

/** The container's roles (the flag wins over the variable, as in the hub); `all` when neither is set. */
export function rolesOf(container: HubContainer): Role[] {
  const value = flagsOf(container.args).get('--role') ?? container.env.get('SEALSTREAM_ROLE') ?? 'all';
  return parseRoles(value).roles;
}

/** A setting's value from the flag or, failing that, the variable (undefined: unknown or unset). */
export function settingOf(container: HubContainer, setting: { flag: string; env: string }): string | undefined {
  return flagsOf(container.args).get(setting.flag) ?? container.env.get(setting.env);
}

export const SHUTDOWN_TIMEOUT = { flag: '--shutdown-timeout-ms', env: 'SEALSTREAM_SHUTDOWN_TIMEOUT_MS' };

/**
 * The longest orderly shutdown the container may take, in ms: its setting, else the documented default.
 * NaN when the value is not known here (it comes from a Secret) or not a number.
 */
export function shutdownTimeoutMs(container: HubContainer, documented: DocumentedSettings): number {
  const value = settingOf(container, SHUTDOWN_TIMEOUT);
  if (value !== undefined) return Number(value);
  return container.env.has(SHUTDOWN_TIMEOUT.env) ? Number.NaN : Number(documented.defaults.get(SHUTDOWN_TIMEOUT.flag));
}

export function checkHubContainer(container: HubContainer, documented: DocumentedSettings): string[] {
  const problems: string[] = [];
  const { where } = container;
  for (const name of container.env.keys()) {
    if (!documented.env.has(name))
      problems.push(`${where}: environment variable ${name} is not in docs/configuration.md`);
  }
  const flags = flagsOf(container.args);
  for (const flag of flags.keys()) {
    if (!documented.flags.has(flag)) problems.push(`${where}: flag ${flag} is not in docs/configuration.md`);
  }
  const roleValue = flags.get('--role') ?? container.env.get('SEALSTREAM_ROLE');
  if (roleValue !== undefined) {
    const { roles, invalid } = parseRoles(roleValue);
    if (invalid.length > 0 || roles.length === 0) {
      problems.push(`${where}: role "${roleValue}" is not all or a list of ${ROLES.join(', ')}`);
    }
    // A single process (`all`) may run on PGlite and the in-process bus; split roles may not.
    if (roleValue !== 'all') {
      for (const role of roles) {
        for (const needed of REQUIRED_BY_ROLE[role]) {
          if (!flags.has(needed.flag) && !container.env.has(needed.env)) {
            problems.push(`${where}: role ${role} needs ${needed.env} (or ${needed.flag}), which is not set`);
          }
        }
      }
    }
  }
  return problems;
}
