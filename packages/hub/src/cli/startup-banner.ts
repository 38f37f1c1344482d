/**
 * The block `sealstream serve` prints when start-up is complete: where everything listens and, in demo
 * mode, how to sign in. Framed and printed last, so a person finds it among the log lines. The demo
 * admin's password appears only at the start that created the account; every later start says how to
 * get in without it, so nobody is locked out of a demo store by a lost or unseen password.
 */
import type { HubConfig } from '../config/hub-config.js';

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
    ...(config.demo ? demoLines(config, facts.demoAdmin) : []),
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

function demoLines(config: HubConfig, admin: BannerFacts['demoAdmin']): string[] {
  const devices = `Demo devices:    ${config.demoDevices.count} native at ${config.demoDevices.rate} readings/s total, plus a legacy burst emitter`;
  if (admin !== null) {
    return [
      devices,
      '',
      `API admin:       ${admin.username} / ${admin.password}  (demo; shown only at first start)`,
      '                 Sign in to the dashboard with it, and keep it: it is not stored anywhere readable.',
    ];
  }
  const add = 'npx sealstream users add --username admin2 --role admin';
  return [
    devices,
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
