/**
 * The dashboard under load, measured (not asserted): a real hub takes ~10K readings/s from the
 * emitter CLI (a separate process) for five minutes while a signed-in page in real Chromium shows the
 * live view and follows one device. Every 10 s it samples frame rate (requestAnimationFrame count and
 * the longest frame gap), long tasks, and the JS heap and DOM size over the DevTools protocol. The
 * figures go to test-output/dashboard-load.json and are printed as the table in docs/benchmarks.md.
 *
 * Off by default (it takes minutes); run it with:
 *   npm run build && SEALSTREAM_DASHBOARD_LOAD=1 npx vitest run e2e/browser/dashboard-load.test.ts
 * SEALSTREAM_DASHBOARD_LOAD_SECONDS (default 300) and SEALSTREAM_DASHBOARD_LOAD_RATE (default 10000)
 * change the run. Nothing here is a timing assertion: the test fails only if the page stops working.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { chromiumInstalled, launchChromium, type LaunchedBrowser } from './support/chromium.js';
import { byTestId, captureState, connectionState, signIn, waitUntil } from './support/dashboard-page.js';
import { CLI_PATH, fetchHubStats, apiLogin, hubBuilt, HubServer } from './support/hub-server.js';

const enabled = process.env.SEALSTREAM_DASHBOARD_LOAD === '1' && chromiumInstalled && hubBuilt;
const SECONDS = Number(process.env.SEALSTREAM_DASHBOARD_LOAD_SECONDS ?? 300);
const RATE = Number(process.env.SEALSTREAM_DASHBOARD_LOAD_RATE ?? 10_000);
const DEVICES = 200;
const WARMUP_SECONDS = 20;
const SAMPLE_SECONDS = 10;
const RESULT_FILE = fileURLToPath(new URL('../../test-output/dashboard-load.json', import.meta.url));

const KEY_ID = 'load-fleet';
const SECRET = randomBytes(32).toString('hex');
const USER = { username: 'load-viewer', password: randomBytes(18).toString('base64url') };

/** Installed in the page: counts animation frames and long tasks, read (and reset) per sample. */
const PAGE_PROBE = `(() => {
  const probe = { frames: 0, worstGapMs: 0, last: performance.now(), longTasks: 0, longTaskMs: 0 };
  window.__loadProbe = probe;
  const tick = (now) => {
    const gap = now - probe.last;
    if (gap > probe.worstGapMs) probe.worstGapMs = gap;
    probe.last = now;
    probe.frames += 1;
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      probe.longTasks += 1;
      probe.longTaskMs += entry.duration;
    }
  }).observe({ entryTypes: ['longtask'] });
})()`;

const READ_PROBE = `(() => {
  const probe = window.__loadProbe;
  const out = { frames: probe.frames, worstGapMs: probe.worstGapMs, longTasks: probe.longTasks, longTaskMs: probe.longTaskMs };
  probe.frames = 0;
  probe.worstGapMs = 0;
  probe.longTasks = 0;
  probe.longTaskMs = 0;
  return out;
})()`;

interface Sample {
  readonly atSeconds: number;
  readonly fps: number;
  readonly worstFrameMs: number;
  readonly longTasks: number;
  readonly longTaskMs: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly domNodes: number;
  readonly hubReadingsPerSec: number;
}

async function metrics(cdp: CDPSession): Promise<Record<string, number>> {
  const { metrics: list } = await cdp.send('Performance.getMetrics');
  return Object.fromEntries(list.map((metric) => [metric.name, metric.value]));
}

const mb = (bytes: number | undefined): number => Math.round(((bytes ?? 0) / 1_048_576) * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor((p / 100) * sorted.length)))] ?? Number.NaN;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

/**
 * SEALSTREAM_DASHBOARD_LOAD_PROFILE=1: a 10 s CPU profile of the page, saved for DevTools and
 * summarised as the functions with the most self time (build with `vite build --minify false` first
 * for readable names).
 */
async function profile(cdp: CDPSession): Promise<void> {
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.start');
  await sleep(10_000);
  const { profile: result } = await cdp.send('Profiler.stop');
  await mkdir(fileURLToPath(new URL('../../test-output/', import.meta.url)), { recursive: true });
  await writeFile(
    fileURLToPath(new URL('../../test-output/dashboard-load.cpuprofile', import.meta.url)),
    JSON.stringify(result),
  );
  const nodes = new Map<number, ProfileNode>((result.nodes as ProfileNode[]).map((node) => [node.id, node]));
  const selfMs = new Map<string, number>();
  const deltas = result.timeDeltas ?? [];
  (result.samples ?? []).forEach((id, index) => {
    const frame = nodes.get(id)?.callFrame;
    const name =
      frame === undefined
        ? '?'
        : `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop() ?? ''}:${frame.lineNumber}`;
    selfMs.set(name, (selfMs.get(name) ?? 0) + (deltas[index] ?? 0) / 1000);
  });
  const top = [...selfMs.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25);
  console.log(top.map(([name, ms]) => `${ms.toFixed(0).padStart(6)} ms  ${name}`).join('\n'));
}

interface TraceEvent {
  readonly name: string;
  readonly ph: string;
  readonly tid: number;
  readonly dur?: number;
  readonly args?: { readonly name?: string };
}

/** With the profile: 5 s of the renderer main thread's timeline, time per event kind (layout, paint, script…). */
async function timeline(cdp: CDPSession): Promise<void> {
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (data) => events.push(...(data.value as unknown as TraceEvent[])));
  const complete = new Promise<void>((resolve) => cdp.once('Tracing.tracingComplete', () => resolve()));
  await cdp.send('Tracing.start', { categories: 'devtools.timeline', transferMode: 'ReportEvents' });
  await sleep(5000);
  await cdp.send('Tracing.end');
  await complete;
  const main = events.find((event) => event.ph === 'M' && event.args?.name === 'CrRendererMain')?.tid;
  const byName = new Map<string, number>();
  for (const event of events) {
    if (event.tid !== main || event.ph !== 'X' || event.dur === undefined) continue;
    byName.set(event.name, (byName.get(event.name) ?? 0) + event.dur / 1000);
  }
  const top = [...byName.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15);
  console.log(top.map(([name, ms]) => `${ms.toFixed(0).padStart(6)} ms  ${name} (timeline, 5 s)`).join('\n'));
}

/** Why the measurement does not run, in its title, so a skipped run says so. */
const skipReason =
  process.env.SEALSTREAM_DASHBOARD_LOAD !== '1'
    ? ' (skipped: a 5-minute measurement, opt in with SEALSTREAM_DASHBOARD_LOAD=1)'
    : !chromiumInstalled
      ? ' (skipped: /usr/bin/chromium is not installed)'
      : !hubBuilt
        ? ' (skipped: run npm run build first)'
        : '';

describe.skipIf(!enabled)(`dashboard under ~10K readings/s (measurement)${skipReason}`, () => {
  const hub = new HubServer({
    env: {
      SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET}`,
      SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
      // The legacy listener is not loaded here; HubServer waits for its address line at start.
      ENCRYPTION_KEY: 'dashboard-load-encryption-key',
      AUTH_TOKEN: 'dashboard-load-auth-token',
    },
  });
  let browser: LaunchedBrowser | undefined;
  let emitter: ChildProcess | undefined;

  afterAll(async () => {
    emitter?.kill('SIGTERM');
    await browser?.close();
    await hub.dispose();
  }, 60_000);

  it(
    `keeps rendering for ${SECONDS} s while ${RATE} readings/s arrive`,
    async () => {
      await hub.addUser(USER.username, 'viewer', USER.password);
      await hub.start();
      const token = await apiLogin(hub.ports.http, USER.username, USER.password);
      browser = await launchChromium();
      const page: Page = browser.context.pages()[0] ?? (await browser.context.newPage());
      const pageErrors: string[] = [];
      page.on('pageerror', (error) => pageErrors.push(error.message));
      await page.goto(hub.url, { waitUntil: 'domcontentloaded' });
      await signIn(page, USER);
      await waitUntil(
        'connected',
        () => connectionState(page),
        (state) => state === 'connected',
      );

      emitter = spawn(
        process.execPath,
        [
          CLI_PATH,
          'emit',
          '--mode',
          'native',
          '--port',
          String(hub.ports.tcp),
          '--devices',
          String(DEVICES),
          '--rate',
          String(RATE),
          '--duration',
          String(SECONDS + WARMUP_SECONDS + 30),
          '--key-id',
          KEY_ID,
          '--connections',
          '4',
        ],
        {
          env: { PATH: process.env.PATH ?? '', SEALSTREAM_DEVICE_SECRET: SECRET },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let emitterErrors = '';
      emitter.stderr?.on('data', (chunk: Buffer) => (emitterErrors = (emitterErrors + chunk.toString()).slice(-2000)));

      // Follow one device, as an operator watching it would: its every reading arrives too.
      const followed = page.locator('tr[data-device="sim-7"]');
      await followed.waitFor({ state: 'visible', timeout: 20_000 });
      await followed.click();
      await sleep(WARMUP_SECONDS * 1000);

      const cdp = await page.context().newCDPSession(page);
      if (process.env.SEALSTREAM_DASHBOARD_LOAD_PROFILE === '1') await profile(cdp);
      if (process.env.SEALSTREAM_DASHBOARD_LOAD_PROFILE === '1') await timeline(cdp);
      await cdp.send('Performance.enable');
      await cdp.send('HeapProfiler.collectGarbage');
      const start = await metrics(cdp);
      await page.evaluate(PAGE_PROBE);
      const samples: Sample[] = [];
      const began = Date.now();
      while (Date.now() - began < SECONDS * 1000) {
        await sleep(SAMPLE_SECONDS * 1000);
        const probe = await page.evaluate<{
          frames: number;
          worstGapMs: number;
          longTasks: number;
          longTaskMs: number;
        }>(READ_PROBE);
        const now = await metrics(cdp);
        const stats = await fetchHubStats(hub.ports.http, token);
        samples.push({
          atSeconds: Math.round((Date.now() - began) / 1000),
          fps: Math.round((probe.frames / SAMPLE_SECONDS) * 10) / 10,
          worstFrameMs: Math.round(probe.worstGapMs),
          longTasks: probe.longTasks,
          longTaskMs: Math.round(probe.longTaskMs),
          heapUsedMB: mb(now['JSHeapUsedSize']),
          heapTotalMB: mb(now['JSHeapTotalSize']),
          domNodes: now['Nodes'] ?? 0,
          hubReadingsPerSec: Math.round(stats.readingsPerSec),
        });
        console.log(JSON.stringify(samples[samples.length - 1]));
      }
      await cdp.send('HeapProfiler.collectGarbage');
      const end = await metrics(cdp);
      const hubStats = await fetchHubStats(hub.ports.http, token);
      await captureState(page, 'under-load');

      const fps = samples.map((sample) => sample.fps);
      const rates = samples.map((sample) => sample.hubReadingsPerSec);
      const summary = {
        seconds: SECONDS,
        targetRate: RATE,
        devices: DEVICES,
        hubReadingsPerSec: { median: percentile(rates, 50), min: Math.min(...rates) },
        totalValid: hubStats.totalValid,
        fps: { median: percentile(fps, 50), min: Math.min(...fps), max: Math.max(...fps) },
        worstFrameMs: Math.max(...samples.map((sample) => sample.worstFrameMs)),
        longTasks: samples.reduce((sum, sample) => sum + sample.longTasks, 0),
        longTaskMs: samples.reduce((sum, sample) => sum + sample.longTaskMs, 0),
        heapUsedMB: {
          afterGcStart: mb(start['JSHeapUsedSize']),
          min: Math.min(...samples.map((sample) => sample.heapUsedMB)),
          max: Math.max(...samples.map((sample) => sample.heapUsedMB)),
          afterGcEnd: mb(end['JSHeapUsedSize']),
        },
        domNodes: { start: start['Nodes'], end: end['Nodes'] },
        scriptSeconds: Math.round(((end['ScriptDuration'] ?? 0) - (start['ScriptDuration'] ?? 0)) * 10) / 10,
        taskSeconds: Math.round(((end['TaskDuration'] ?? 0) - (start['TaskDuration'] ?? 0)) * 10) / 10,
        chromium: await page.evaluate<string>('navigator.userAgent'),
        samples,
      };
      await mkdir(fileURLToPath(new URL('../../test-output/', import.meta.url)), { recursive: true });
      await writeFile(RESULT_FILE, `${JSON.stringify(summary, null, 2)}\n`);
      console.log(JSON.stringify({ ...summary, samples: undefined }, null, 2));

      // Functional checks only: the page kept working and the load really arrived.
      expect(pageErrors).toEqual([]);
      expect(await connectionState(page)).toBe('connected');
      expect(
        await page.locator(`${byTestId('device-readings')} table.readings-table tbody tr`).count(),
      ).toBeGreaterThan(0);
      expect(samples.every((sample) => sample.fps > 0)).toBe(true);
      expect(emitterErrors).toBe('');
    },
    (SECONDS + WARMUP_SECONDS + 180) * 1000,
  );
});
