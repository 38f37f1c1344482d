/**
 * The block `sealstream serve` prints when start-up is complete: where everything listens and, in demo
 * mode, how to sign in. Framed and printed last, so a person finds it among the log lines. The demo
 * admin's password appears only at the start that created the account; every later start says how to
 * get in without it, so nobody is locked out of a demo store by a lost or unseen password.
 */
import type { HubConfig } from '../config/hub-config.js';
import { DEMO_LEGACY_TAMPER_FRACTION } from './demo-defaults.js';

export interface BannerFacts {
  readonly ports: {
    readonly http: number;
    readonly tcp: number | null;
    readonly legacy: number | null;
    readonly monitor: number | null;
  };
  readonly demoAdmin: { readonly username: string; readonly password: string } | null;
}

export function startupBanner(config: HubConfig, facts: BannerFacts): string {
  const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${facts.ports.http}/`;
  const { ports } = facts;
  const store = config.store.kind === 'pglite' ? `PGlite in ${config.store.dataDir}` : 'PostgreSQL server';
  const servesApi = config.role === 'all' || config.role.includes('api');
  // A writer alone serves only /healthz and /metrics; a gateway's /docs documents its ingest routes.
  const servesDocs = servesApi || config.role.includes('gateway');
  const role =
    config.role === 'all'
      ? []
      : [`Role:            ${config.role.join(',')} (instance ${config.instance}; bus prefix ${config.bus.prefix})`];
  const lines = [
    `Sealstream hub is running (${store})`,
    ...role,
    `Dashboard:       ${url}${servesApi ? '' : `  (not on this role: ${roleServes(config)} only)`}`,
    `Metrics:         ${url}metrics`,
    `Native TCP:      ${ports.tcp === null ? 'off' : `${config.host}:${ports.tcp}`}`,
    `Legacy TCP:      ${ports.legacy === null ? 'off' : `${config.host}:${ports.legacy}`}`,
    ...(ports.monitor === null ? [] : [`Monitoring:      ${config.host}:${ports.monitor} (/healthz, /metrics)`]),
    `API docs:        ${servesDocs ? `${url}docs` : 'not on this role'}`,
    ...(config.demo ? demoLines(config, facts.demoAdmin, ports) : []),
  ];
  const rule = '='.repeat(Math.min(100, Math.max(...lines.map((line) => line.length)) + 4));
  return ['', rule, ...lines.map((line) => `  ${line}`), rule, ''].join('\n');
}

/** What the HTTP port of a process without the api role serves. */
function roleServes(config: HubConfig): string {
  return config.role !== 'all' && config.role.includes('gateway')
    ? '/healthz, /metrics, HTTP ingest'
    : '/healthz, /metrics';
}

/** What demo traffic runs: it needs the door it speaks to (startDemoDevices starts only those). */
function demoTraffic(config: HubConfig, ports: BannerFacts['ports']): string[] {
  const native =
    ports.tcp !== null && config.demoDevices.count > 0
      ? `${config.demoDevices.count} native at ${config.demoDevices.rate} readings/s total`
      : null;
  const legacy = ports.legacy !== null && config.legacy !== null;
  const tampered = `                 (${Math.round(DEMO_LEGACY_TAMPER_FRACTION * 100)} % of its tokens corrupted on purpose, so refusals show)`;
  if (native !== null && legacy) return [`Demo devices:    ${native}, plus the seed's legacy burst emitter`, tampered];
  if (legacy) return ["Demo devices:    the seed's legacy burst emitter", tampered];
  return [`Demo devices:    ${native ?? 'none (the native and legacy ports are off)'}`];
}

function demoLines(config: HubConfig, admin: BannerFacts['demoAdmin'], ports: BannerFacts['ports']): string[] {
  const devices = demoTraffic(config, ports);
  if (admin !== null) {
    return [
      ...devices,
      '',
      `API admin:       ${admin.username} / ${admin.password}  (demo; shown only at first start)`,
      '                 Sign in to the dashboard with it, and keep it: it is not stored anywhere readable.',
    ];
  }
  const add = 'npx sealstream users add --username admin2 --role admin';
  return [
    ...devices,
    '',
    'API admin:       the demo admin ("admin") was created at an earlier start, which printed its password.',
    ...(config.store.kind === 'pglite'
      ? [
          `                 Lost it? Stop the hub, run  ${add} --data-dir ${config.store.dataDir}`,
          '                 (it prints a new password), and start the hub again.',
        ]
      : [`                 Lost it? Run  ${add} --database-url <this hub's URL>  (it prints a new password).`]),
  ];
}
