/**
 * The end-to-end tests' hub: the BUILT `sealstream serve` started through the test kit (native TCP and
 * HTTP, legacy off), its /metrics, kill -9 or stop. Also the delivery tests' access to the hub's
 * PostgreSQL schema (counting rows, cutting the hub's connections) and a stream of numbered readings.
 */
import type { ChildProcess } from 'node:child_process';
import pg from 'pg';
import type { NativeClient } from '@sealstream/emitter';
import { HUB_CLI, hubBuilt, killRunningHubs, scrapeMetrics, sleep, startHub, sumMetric } from '@sealstream/testkit';

export { scrapeMetrics, sleep, sumMetric };
export const CLI_PATH = HUB_CLI;
export const cliBuilt = hubBuilt();

export interface HubPorts {
  readonly http: number;
  readonly tcp: number;
}

export interface HubProcess {
  readonly child: ChildProcess;
  readonly ports: HubPorts;
  output(): string;
  /** SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** Kills every hub still running and returns what all hubs started since the last call printed. */
export function killAllHubs(): string[] {
  killRunningHubs();
  return outputs.splice(0).map((output) => output());
}

const outputs: Array<() => string> = [];

/**
 * Starts `sealstream serve` with ephemeral ports unless `ports` pins them (a restart on the same ports).
 * Resolves once the hub printed its listening addresses.
 */
export async function spawnHub(args: readonly string[], env: Record<string, string>, ports?: HubPorts) {
  const hub = await startHub({
    args: [
      '--http-port',
      String(ports?.http ?? 0),
      '--tcp-port',
      String(ports?.tcp ?? 0),
      '--legacy-port',
      'off',
      '--log-level',
      'warn',
      ...args,
    ],
    env,
    startTimeoutMs: 30_000,
  });
  outputs.push(() => hub.output());
  const started: HubProcess = {
    child: hub.child,
    ports: { http: hub.ports.http ?? Number.NaN, tcp: hub.ports.tcp ?? Number.NaN },
    output: () => hub.output(),
    kill9: () => hub.kill9(),
    stop: () => hub.stop(),
  };
  return started;
}

/** The URL the hub gets: the test server plus an application_name that singles out its connections. */
export function hubDatabaseUrl(baseUrl: string, applicationName: string): string {
  return `${baseUrl}${baseUrl.includes('?') ? '&' : '?'}application_name=${applicationName}`;
}

export interface DeliveryCount {
  readonly rows: number;
  readonly distinctKeys: number;
  /** Per device: rows, lowest and highest seq. */
  readonly devices: ReadonlyMap<string, { rows: number; minSeq: number; maxSeq: number }>;
}

/** What the hub's schema holds: total rows, distinct (device_id, seq), and per-device seq ranges. */
export async function countDelivered(url: string, schema: string): Promise<DeliveryCount> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error('countDelivered: unexpected schema name');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const totals = await client.query<{ rows: string; distinct_keys: string }>(
      `SELECT count(*) AS rows, count(DISTINCT (device_id, seq)) AS distinct_keys FROM ${schema}.readings`,
    );
    const perDevice = await client.query<{ device_id: string; rows: string; min_seq: string; max_seq: string }>(
      `SELECT device_id, count(*) AS rows, min(seq) AS min_seq, max(seq) AS max_seq
         FROM ${schema}.readings GROUP BY device_id`,
    );
    return {
      rows: Number(totals.rows[0]?.rows ?? 0),
      distinctKeys: Number(totals.rows[0]?.distinct_keys ?? 0),
      devices: new Map(
        perDevice.rows.map((row) => [
          row.device_id,
          { rows: Number(row.rows), minSeq: Number(row.min_seq), maxSeq: Number(row.max_seq) },
        ]),
      ),
    };
  } finally {
    await client.end();
  }
}

/**
 * The minute rollups against the readings: per device, valid counted in minute_buckets and rows in
 * readings, plus the rollup journal rows not folded yet. After a hub stopped cleanly the journal is
 * empty and the two counts agree, even when an earlier hub of the run was killed.
 */
export async function countRollups(
  url: string,
  schema: string,
): Promise<{ backlog: number; mismatches: Array<{ device: string; valid: number; rows: number }> }> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error('countRollups: unexpected schema name');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const backlog = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.rollup_pending`);
    const compared = await client.query<{ device_id: string; valid: string; rows: string }>(
      `SELECT coalesce(b.device_id, r.device_id) AS device_id, coalesce(b.valid, 0) AS valid, coalesce(r.rows, 0) AS rows
         FROM (SELECT device_id, sum(valid) AS valid FROM ${schema}.minute_buckets WHERE device_id <> '' GROUP BY device_id) b
         FULL JOIN (SELECT device_id, count(*) AS rows FROM ${schema}.readings GROUP BY device_id) r
           ON r.device_id = b.device_id`,
    );
    return {
      backlog: Number(backlog.rows[0]?.n ?? 0),
      mismatches: compared.rows
        .map((row) => ({ device: row.device_id, valid: Number(row.valid), rows: Number(row.rows) }))
        .filter((row) => row.valid !== row.rows),
    };
  } finally {
    await client.end();
  }
}

/**
 * Feeds numbered readings (seq 0, 1, 2, … per device) into a client at about `ratePerSecond` until
 * stopped. `sent` is what `send()` accepted: the readings the database must end up holding.
 */
export class ReadingStream {
  readonly sent = new Map<string, number>();
  private stopped = false;
  private failure: unknown;
  private readonly done: Promise<void>;

  constructor(
    private readonly client: NativeClient,
    readonly devices: readonly string[],
    ratePerSecond: number,
  ) {
    for (const device of devices) this.sent.set(device, 0);
    this.done = this.run(ratePerSecond);
  }

  get total(): number {
    let total = 0;
    for (const count of this.sent.values()) total += count;
    return total;
  }

  /** Stops producing; throws what made the producer fail, if anything did. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
    if (this.failure !== undefined) throw this.failure;
  }

  private async run(ratePerSecond: number): Promise<void> {
    try {
      await this.produce(ratePerSecond);
    } catch (error) {
      // Kept for stop(): a test that never reaches stop() (it failed earlier) must not leave a rejection behind.
      this.failure = error;
    }
  }

  private async produce(ratePerSecond: number): Promise<void> {
    const tickMs = 10;
    const started = Date.now();
    let issued = 0;
    while (!this.stopped) {
      const due = Math.floor(((Date.now() - started) * ratePerSecond) / 1000);
      for (; issued < due && !this.stopped; issued += 1) {
        const device = this.devices[issued % this.devices.length] ?? 'none';
        const seq = this.sent.get(device) ?? 0;
        await this.client.send({ device, seq, ts: Date.now(), data: { v: seq, n: issued } });
        this.sent.set(device, seq + 1);
      }
      await sleep(tickMs);
    }
  }
}

export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(100);
  }
}
