/**
 * /healthz against a store that hangs or fails: it answers 503 within its bound instead of leaving the
 * probe without an answer, and a hanging store is asked once, not once per probe (each ask would queue
 * another statement behind the stuck one). The store here is a stand-in whose ping the test controls:
 * the hang itself (PGlite spinning after its disk filled) cannot be produced on demand.
 */
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { buildMonitorApp, HEALTH_PING_TIMEOUT_MS } from '../../src/http/monitor-app.js';
import type { ReadingStore } from '../../src/pipeline/ports.js';

const apps: Array<{ close(): Promise<unknown> }> = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

function appWith(ping: () => Promise<void>) {
  let pings = 0;
  const store = {
    kind: 'pglite',
    ping: () => {
      pings += 1;
      return ping();
    },
  } as unknown as ReadingStore;
  const app = buildMonitorApp({
    store,
    metricsRegistry: new Registry(),
    isReady: () => true,
    logger: pino({ level: 'silent' }),
    requestTimeoutMs: 30_000,
  });
  apps.push(app);
  return { app, pings: () => pings };
}

describe('the monitor app', () => {
  // First in the file: Node prints each deprecation once per process, so a later test would not see it.
  it('starts without a Fastify deprecation warning and logs no request of a probe', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on('warning', onWarning);
    const lines: string[] = [];
    try {
      const app = buildMonitorApp({
        store: { kind: 'pglite', ping: () => Promise.resolve() } as unknown as ReadingStore,
        metricsRegistry: new Registry(),
        isReady: () => true,
        logger: pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }),
        requestTimeoutMs: 30_000,
      });
      apps.push(app);
      await app.ready();
      const response = await app.inject({ method: 'GET', url: '/healthz' });
      expect(response.statusCode).toBe(200);
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((warning) => `${warning.name}: ${warning.message}`)).toEqual([]);
    expect(lines.filter((line) => line.includes('request'))).toEqual([]);
  });
});

describe('/healthz with a store that does not answer', () => {
  it('answers 503 store_unresponsive within its bound, and asks the hanging store only once', async () => {
    let release = (): void => undefined;
    const hanging = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { app, pings } = appWith(() => hanging);
    const started = Date.now();
    const [first, second] = await Promise.all([
      app.inject({ method: 'GET', url: '/healthz' }),
      app.inject({ method: 'GET', url: '/healthz' }),
    ]);
    const waited = Date.now() - started;
    expect(first.statusCode).toBe(503);
    expect(first.json()).toEqual({ status: 'store_unresponsive', store: 'pglite' });
    expect(second.statusCode).toBe(503);
    expect(waited).toBeGreaterThanOrEqual(HEALTH_PING_TIMEOUT_MS - 50);
    expect(waited).toBeLessThan(HEALTH_PING_TIMEOUT_MS + 3000);
    expect(pings()).toBe(1);

    // Once the store answers again, so does the probe (and a new ping is made).
    release();
    await hanging;
    const healthy = await app.inject({ method: 'GET', url: '/healthz' });
    expect(healthy.statusCode).toBe(200);
    expect(healthy.json()).toEqual({ status: 'ok', store: 'pglite' });
    expect(pings()).toBe(2);
  });

  it('answers 503 store_unavailable at once when the store fails', async () => {
    const { app } = appWith(() => Promise.reject(new Error('connection refused')));
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'store_unavailable', store: 'pglite' });
  });
});
