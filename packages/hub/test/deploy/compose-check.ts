/**
 * Checks deploy/compose.yaml: the backing services (PostgreSQL, RabbitMQ, Redis, Mosquitto) and the
 * hub's roles (two gateways, two writers, an api) are there; every service has a health check; each hub
 * starts only after the services its role needs are healthy; hub settings are documented; instance and
 * MQTT client ids are distinct; the stop grace period outlasts the hub's shutdown timeout; every
 * variable the file interpolates is listed in the example env file.
 */
import { parse } from 'yaml';
import type { DocumentedSettings } from './documented-settings.js';
import { checkHubContainer, rolesOf, shutdownTimeoutMs, type HubContainer, type Role } from './hub-settings.js';
import { asList, asMap, asText, type YamlMap } from './yaml-values.js';

/** Image name prefixes of the backing services, and which roles need each one healthy first. */
const BACKING: ReadonlyArray<{ image: string; neededBy: readonly Role[] }> = [
  { image: 'postgres', neededBy: ['gateway', 'writer', 'api'] },
  { image: 'rabbitmq', neededBy: ['gateway', 'writer', 'api'] },
  { image: 'redis', neededBy: ['gateway', 'api'] },
  { image: 'eclipse-mosquitto', neededBy: ['gateway'] },
];

const MIN_PER_ROLE: Readonly<Record<Role, number>> = { gateway: 2, writer: 2, api: 1 };

function isHub(service: YamlMap): boolean {
  return service.build !== undefined || /^sealstream(:|$)/.test(asText(service.image) ?? '');
}

function environmentOf(service: YamlMap): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  const raw = service.environment;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const [name = '', ...value] = String(entry).split('=');
      env.set(name, value.length > 0 ? value.join('=') : undefined);
    }
  } else {
    for (const [name, value] of Object.entries(asMap(raw))) env.set(name, asText(value));
  }
  return env;
}

function argsOf(service: YamlMap): string[] {
  const command = service.command;
  if (typeof command === 'string') return command.split(/\s+/);
  return asList(command).map((arg) => asText(arg) ?? '');
}

/** Compose durations ("60s", "1m30s") in ms. */
function durationMs(text: string | undefined): number {
  if (text === undefined) return 10_000; // compose's default stop grace period
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const [, amount = '0', unit = 's'] of text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g))
    total += Number(amount) * (units[unit] ?? 0);
  return total;
}

/** Names interpolated as `${NAME}`, `${NAME:-default}`, `${NAME:?message}`; `$$` is a literal dollar. */
export function interpolatedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.replaceAll('$$', '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1] ?? '');
  return names;
}

/** Names an env file defines (`NAME=value` lines). */
export function envFileNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (match !== null) names.add(match[1] ?? '');
  }
  return names;
}

export function checkCompose(text: string, documented: DocumentedSettings, envExample: string): string[] {
  const problems: string[] = [];
  const services = asMap(asMap(parse(text, { merge: true })).services);
  const hubs = new Map<string, { container: HubContainer; service: YamlMap; roles: Role[] }>();

  for (const [name, raw] of Object.entries(services)) {
    const service = asMap(raw);
    const health = asMap(service.healthcheck);
    if (asList(health.test).length === 0 && asText(health.test) === undefined) {
      problems.push(`compose service ${name}: has no healthcheck`);
    }
    if (health.disable === true) problems.push(`compose service ${name}: its healthcheck is disabled`);
    if (!isHub(service)) continue;
    const container: HubContainer = {
      where: `compose service ${name}`,
      env: environmentOf(service),
      args: argsOf(service),
    };
    hubs.set(name, { container, service, roles: rolesOf(container) });
    problems.push(...checkHubContainer(container, documented));
  }

  const backingName = new Map<string, string>();
  for (const backing of BACKING) {
    const found = Object.entries(services).find(([, raw]) =>
      (asText(asMap(raw).image) ?? '').startsWith(`${backing.image}:`),
    );
    if (found === undefined) problems.push(`compose: no ${backing.image} service`);
    else backingName.set(backing.image, found[0]);
  }

  for (const role of Object.keys(MIN_PER_ROLE) as Role[]) {
    let count = 0;
    for (const hub of hubs.values()) {
      if (hub.roles.includes(role)) count += Number(asMap(hub.service.deploy).replicas ?? 1);
    }
    if (count < MIN_PER_ROLE[role])
      problems.push(`compose: ${count} ${role} instance(s), want at least ${MIN_PER_ROLE[role]}`);
  }

  for (const [name, hub] of hubs) {
    const dependsOn = asMap(hub.service.depends_on);
    if (Array.isArray(hub.service.depends_on)) {
      problems.push(`compose service ${name}: depends_on is a list; use conditions (service_healthy)`);
    }
    for (const [target, condition] of Object.entries(dependsOn)) {
      if (services[target] === undefined)
        problems.push(`compose service ${name}: depends on unknown service ${target}`);
      if (asMap(condition).condition !== 'service_healthy') {
        problems.push(`compose service ${name}: waits for ${target} without condition service_healthy`);
      }
    }
    for (const backing of BACKING) {
      const target = backingName.get(backing.image);
      if (target === undefined || !backing.neededBy.some((role) => hub.roles.includes(role))) continue;
      if (dependsOn[target] === undefined) problems.push(`compose service ${name}: does not wait for ${target}`);
    }
    const grace = durationMs(asText(hub.service.stop_grace_period));
    const shutdown = shutdownTimeoutMs(hub.container, documented);
    if (!(shutdown < grace)) {
      problems.push(
        `compose service ${name}: stop_grace_period ${grace} ms does not outlast the shutdown timeout ${shutdown} ms`,
      );
    }
  }

  for (const variable of ['SEALSTREAM_INSTANCE', 'SEALSTREAM_MQTT_CLIENT_ID']) {
    const seen = new Map<string, string>();
    for (const [name, hub] of hubs) {
      const value = hub.container.env.get(variable);
      if (value === undefined) continue;
      const other = seen.get(value);
      if (other !== undefined) problems.push(`compose services ${other} and ${name}: the same ${variable} "${value}"`);
      seen.set(value, name);
    }
  }

  const listed = envFileNames(envExample);
  for (const name of interpolatedNames(text)) {
    if (!listed.has(name)) problems.push(`compose: interpolates \${${name}}, which .env.example does not list`);
  }
  return problems;
}
