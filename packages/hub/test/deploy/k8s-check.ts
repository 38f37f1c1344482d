/**
 * Checks the Kubernetes manifests as one set: a Deployment per role (gateway, writer, api) whose hub
 * container is probed on /healthz (readiness and liveness) through a declared port, runs as non-root,
 * sets only documented settings and takes secrets from the Secret only; every ConfigMap/Secret reference
 * resolves to a defined key; Services, PodDisruptionBudgets and HorizontalPodAutoscalers point at
 * existing Deployments; the grace period outlasts the hub's shutdown timeout; the example Secret holds
 * only placeholders.
 */
import { parseAllDocuments } from 'yaml';
import type { DocumentedSettings } from './documented-settings.js';
import {
  checkHubContainer,
  rolesOf,
  ROLES,
  SECRET_SETTINGS,
  shutdownTimeoutMs,
  type HubContainer,
  type Role,
} from './hub-settings.js';
import { asList, asMap, asText, type YamlMap } from './yaml-values.js';

/** The marker every value of the example Secret carries, so no real secret is ever committed. */
export const PLACEHOLDER = 'REPLACE-ME';

export interface Manifest {
  readonly file: string;
  readonly doc: YamlMap;
}

export function parseManifests(files: ReadonlyArray<{ file: string; text: string }>): Manifest[] {
  return files.flatMap(({ file, text }) =>
    parseAllDocuments(text).map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message}`);
      return { file, doc: asMap(document.toJS()) };
    }),
  );
}

const nameOf = (doc: YamlMap): string => asText(asMap(doc.metadata).name) ?? '';

/** Whether every label a selector asks for is on the pod template. */
function selects(selector: YamlMap, labels: YamlMap): boolean {
  const wanted = Object.entries(selector);
  return wanted.length > 0 && wanted.every(([key, value]) => labels[key] === value);
}

interface Deployment {
  readonly name: string;
  readonly file: string;
  readonly labels: YamlMap;
  readonly pod: YamlMap;
  readonly hub: YamlMap;
  readonly container: HubContainer;
  readonly roles: Role[];
}

export function checkManifests(manifests: readonly Manifest[], documented: DocumentedSettings): string[] {
  const problems: string[] = [];
  const ofKind = (kind: string): Manifest[] => manifests.filter((m) => m.doc.kind === kind);
  const keysOf = (kind: 'ConfigMap' | 'Secret'): Map<string, Map<string, string | undefined>> =>
    new Map(
      ofKind(kind).map(({ doc }) => [
        nameOf(doc),
        new Map(
          Object.entries({ ...asMap(doc.data), ...asMap(doc.stringData) }).map(([key, value]) => [key, asText(value)]),
        ),
      ]),
    );
  const configMaps = keysOf('ConfigMap');
  const secrets = keysOf('Secret');

  for (const [name, keys] of configMaps) {
    for (const key of keys.keys()) {
      if (SECRET_SETTINGS.has(key)) problems.push(`ConfigMap ${name}: ${key} is secret; it belongs in the Secret`);
    }
  }
  for (const [name, keys] of secrets) {
    for (const [key, value] of keys) {
      if (!(value ?? '').includes(PLACEHOLDER))
        problems.push(`Secret ${name}: ${key} is not a ${PLACEHOLDER} placeholder`);
    }
  }

  const deployments: Deployment[] = [];
  for (const { file, doc } of ofKind('Deployment')) {
    const name = nameOf(doc);
    const template = asMap(asMap(doc.spec).template);
    const pod = asMap(template.spec);
    const labels = asMap(asMap(template.metadata).labels);
    const where = `${file} Deployment ${name}`;
    if (!selects(asMap(asMap(asMap(doc.spec).selector).matchLabels), labels)) {
      problems.push(`${where}: its selector does not match its pod labels`);
    }
    const hub = asList(pod.containers)
      .map(asMap)
      .find((c) => /^sealstream(:|$)/.test(asText(c.image) ?? ''));
    if (hub === undefined) {
      problems.push(`${where}: no container runs the sealstream image`);
      continue;
    }
    const env = new Map<string, string | undefined>();
    for (const source of asList(hub.envFrom).map(asMap)) {
      const fromMap = asText(asMap(source.configMapRef).name);
      const fromSecret = asText(asMap(source.secretRef).name);
      const keys = fromMap !== undefined ? configMaps.get(fromMap) : secrets.get(fromSecret ?? '');
      if (keys === undefined) problems.push(`${where}: envFrom names ${fromMap ?? fromSecret}, which is not defined`);
      for (const [key, value] of keys ?? []) env.set(key, value);
    }
    for (const entry of asList(hub.env).map(asMap)) {
      const variable = asText(entry.name) ?? '';
      const valueFrom = asMap(entry.valueFrom);
      const mapRef = asMap(valueFrom.configMapKeyRef);
      const secretRef = asMap(valueFrom.secretKeyRef);
      if (entry.value !== undefined && SECRET_SETTINGS.has(variable)) {
        problems.push(`${where}: ${variable} is set as a literal; take it from the Secret`);
      }
      if (Object.keys(mapRef).length > 0 && SECRET_SETTINGS.has(variable)) {
        problems.push(`${where}: ${variable} comes from a ConfigMap; take it from the Secret`);
      }
      for (const [ref, defined, kind] of [
        [mapRef, configMaps, 'ConfigMap'],
        [secretRef, secrets, 'Secret'],
      ] as const) {
        if (Object.keys(ref).length === 0) continue;
        const source = defined.get(asText(ref.name) ?? '');
        if (source === undefined)
          problems.push(`${where}: ${variable} refers to ${kind} ${asText(ref.name)}, which is not defined`);
        else if (!source.has(asText(ref.key) ?? '')) {
          problems.push(
            `${where}: ${variable} refers to key ${asText(ref.key)}, which ${kind} ${asText(ref.name)} does not define`,
          );
        }
      }
      env.set(variable, asText(entry.value));
    }
    const args = [...asList(hub.command), ...asList(hub.args)].map((arg) => asText(arg) ?? '');
    const container: HubContainer = { where, env, args };
    problems.push(...checkHubContainer(container, documented));

    const ports = asList(hub.ports).map(asMap);
    const httpPort = env.get('SEALSTREAM_HTTP_PORT') ?? documented.defaults.get('--http-port');
    for (const probeName of ['readinessProbe', 'livenessProbe'] as const) {
      const probe = asMap(asMap(hub[probeName]).httpGet);
      if (probe.path !== '/healthz') {
        problems.push(`${where}: ${probeName} does not ask /healthz`);
        continue;
      }
      const target = asText(probe.port);
      const port = ports.find((p) => asText(p.name) === target || asText(p.containerPort) === target);
      if (port === undefined) problems.push(`${where}: ${probeName} port ${target} is not a declared container port`);
      else if (asText(port.containerPort) !== httpPort) {
        problems.push(`${where}: ${probeName} asks port ${asText(port.containerPort)}, not the HTTP port ${httpPort}`);
      }
    }
    const nonRoot =
      asMap(pod.securityContext).runAsNonRoot === true || asMap(hub.securityContext).runAsNonRoot === true;
    if (!nonRoot) problems.push(`${where}: does not set runAsNonRoot`);
    const graceMs = Number(pod.terminationGracePeriodSeconds ?? 30) * 1000;
    const shutdown = shutdownTimeoutMs(container, documented);
    if (!(shutdown < graceMs)) {
      problems.push(
        `${where}: terminationGracePeriodSeconds (${graceMs} ms) does not outlast the shutdown timeout ${shutdown} ms`,
      );
    }
    deployments.push({ name, file, labels, pod, hub, container, roles: rolesOf(container) });
  }

  for (const role of ROLES) {
    const serving = deployments.filter((d) => d.roles.length === 1 && d.roles[0] === role);
    if (serving.length !== 1) problems.push(`Kubernetes: ${serving.length} Deployments of role ${role}, want one`);
  }

  const deploymentBySelector = (selector: YamlMap): Deployment | undefined =>
    deployments.find((d) => selects(selector, d.labels));

  for (const { file, doc } of ofKind('Service')) {
    const where = `${file} Service ${nameOf(doc)}`;
    const target = deploymentBySelector(asMap(asMap(doc.spec).selector));
    if (target === undefined) {
      problems.push(`${where}: selects no Deployment's pods`);
      continue;
    }
    const declared = asList(target.hub.ports).map(asMap);
    for (const port of asList(asMap(doc.spec).ports).map(asMap)) {
      const wanted = asText(port.targetPort ?? port.port);
      if (!declared.some((p) => asText(p.name) === wanted || asText(p.containerPort) === wanted)) {
        problems.push(`${where}: targetPort ${wanted} is not a port of Deployment ${target.name}`);
      }
    }
  }

  const budgets = ofKind('PodDisruptionBudget');
  if (budgets.length === 0) problems.push('Kubernetes: no PodDisruptionBudget');
  for (const { file, doc } of budgets) {
    if (deploymentBySelector(asMap(asMap(asMap(doc.spec).selector).matchLabels)) === undefined) {
      problems.push(`${file} PodDisruptionBudget ${nameOf(doc)}: selects no Deployment's pods`);
    }
  }

  const autoscalers = ofKind('HorizontalPodAutoscaler');
  const scaledRoles = new Set<Role>();
  for (const { file, doc } of autoscalers) {
    const ref = asMap(asMap(doc.spec).scaleTargetRef);
    const target = deployments.find((d) => ref.kind === 'Deployment' && d.name === ref.name);
    if (target === undefined) {
      problems.push(
        `${file} HorizontalPodAutoscaler ${nameOf(doc)}: scales ${asText(ref.name)}, which is not a Deployment here`,
      );
      continue;
    }
    target.roles.forEach((role) => scaledRoles.add(role));
    // A CPU utilization target is a share of the request: without one the autoscaler cannot act.
    if (asText(asMap(asMap(target.hub.resources).requests).cpu) === undefined) {
      problems.push(`${file} HorizontalPodAutoscaler ${nameOf(doc)}: Deployment ${target.name} requests no CPU`);
    }
  }
  for (const role of ['gateway', 'api'] as const) {
    if (!scaledRoles.has(role)) problems.push(`Kubernetes: no HorizontalPodAutoscaler for the ${role} role`);
  }
  return problems;
}
