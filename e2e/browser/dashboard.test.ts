/**
 * The dashboard in a real Chromium against a real hub process: devices stream sealed frames and legacy
 * tokens into the built `sealstream serve`, and the page must show what the hub's API says — connection
 * state, totals, devices, a followed device's live readings, tampered input as rejects with reasons —
 * and must say so when the hub goes away and recover when it comes back. Screenshots of each state go
 * to test-output/screenshots/ at laptop and tablet sizes.
 *
 * Needs the build (npm test builds first) and /usr/bin/chromium; skipped with the reason when either is
 * missing, failed when CI=true. The tests share one hub and one page and run in order.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LegacyEmitter } from '@sealstream/emitter';
import { FrameType } from '@sealstream/protocol';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, type LaunchedBrowser } from './support/chromium.js';
import {
  byTestId,
  captureState,
  connectionState,
  parseCount,
  readTotals,
  totalsMatch,
  waitUntil,
} from './support/dashboard-page.js';
import { DeviceFleet } from './support/device-fleet.js';
import { apiLogin, CLI_PATH, fetchHubStats, hubBuilt, HubServer, type HubStats } from './support/hub-server.js';
import { sendTamperedFrame, sendTamperedLegacyToken } from './support/tampering.js';

const ci = process.env.CI === 'true';
const skipReason = !chromiumInstalled
  ? `${CHROMIUM_PATH} is missing (install the distribution's chromium package; .ci/run does)`
  : !hubBuilt
    ? `the build is missing (${CLI_PATH} or the dashboard bundle; run npm run build)`
    : null;
if (ci && skipReason !== null) throw new Error(`browser tests cannot run on CI: ${skipReason}`);
if (skipReason !== null) console.warn(`skipping browser tests: ${skipReason}`);

const KEY_ID = 'browser-fleet';
const SECRET = randomBytes(32);
const ENCRYPTION_KEY = 'browser-test-encryption-key';
const AUTH_TOKEN = 'browser-test-auth-token';
const LEGACY_DEVICE = 'legacy-gateway';
const HUB_ENV = {
  SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
  ENCRYPTION_KEY,
  AUTH_TOKEN,
  SEALSTREAM_LEGACY_DEVICE: LEGACY_DEVICE,
  // Required outside demo mode since accounts exist; these tests sign no one in.
  SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
};
/** The test process reads the API as this viewer (the page itself has no login yet). */
const VIEWER = { username: 'browser-viewer', password: randomBytes(18).toString('base64url') };
const DEVICES = ['bt-sensor-1', 'bt-sensor-2', 'bt-sensor-3', 'bt-sensor-4'];
const LEGACY_BURST = 10;
/**
 * Stats are broadcast about once a second and the page renders at 4 Hz, so the page agrees with the
 * hub within about 1.5 s; the bound leaves room for a machine busy with the rest of the test suite.
 */
const UPDATE_WITHIN_MS = 8000;

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the hub's totals satisfy `done`, then until the page shows exactly the hub's current totals. */
async function expectPageToMatchHub(page: Page, hubStats: () => Promise<HubStats>, done: (stats: HubStats) => boolean) {
  const hub = await waitUntil('hub stats', hubStats, done, 15_000);
  const [shown, truth] = await waitUntil(
    'page totals equal /api/v1/stats',
    async () => [await readTotals(page), await hubStats()] as const,
    ([pageTotals, hubStats]) => totalsMatch(pageTotals, hubStats),
    UPDATE_WITHIN_MS,
  );
  expect(totalsMatch(shown, truth)).toBe(true);
  return hub;
}

async function deviceIds(page: Page): Promise<string[]> {
  return page
    .locator(`${byTestId('devices')} tr[data-device]`)
    .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-device') ?? ''));
}

interface FollowedView {
  readonly heading: string;
  readonly rows: string[];
}

async function followedView(page: Page): Promise<FollowedView> {
  const panel = page.locator(byTestId('device-readings'));
  return {
    heading: (await panel.locator('h2').textContent({ timeout: 5000 })) ?? '',
    rows: await panel.locator('tbody tr').allTextContents(),
  };
}

/** The followed panel names `device` and shows several of its readings (and only its readings). */
async function expectFollowing(page: Page, device: string, deviceNo: number): Promise<FollowedView> {
  const view = await waitUntil(
    `live readings of ${device}`,
    () => followedView(page),
    (shown) =>
      shown.heading.includes(device) &&
      shown.rows.length >= 3 &&
      shown.rows.every((row) => row.includes(`device_no=${deviceNo}`)),
    UPDATE_WITHIN_MS,
  );
  expect(await page.locator(`tr[data-device="${device}"]`).getAttribute('aria-current')).toBe('true');
  return view;
}

/** Newest seq shown in the followed panel (the first column of the newest-first table). */
async function newestFollowedSeq(page: Page): Promise<number> {
  const first = page
    .locator(`${byTestId('device-readings')} tbody tr`)
    .first()
    .locator('td')
    .first();
  return parseCount(await first.textContent({ timeout: 5000 }));
}

async function reasonCounts(page: Page): Promise<Record<string, number>> {
  const rows = page.locator(`${byTestId('rejects-by-reason')} tbody tr[data-reason]`);
  const counts: Record<string, number> = {};
  for (const row of await rows.all()) {
    const reason = (await row.getAttribute('data-reason')) ?? '';
    counts[reason] = parseCount(await row.locator('td').textContent());
  }
  return counts;
}

const positive = (counts: Readonly<Record<string, number>>): Record<string, number> =>
  Object.fromEntries(Object.entries(counts).filter(([, count]) => count > 0));

describe.skipIf(skipReason !== null)(
  `dashboard in Chromium against a real hub${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const hub = new HubServer({ env: HUB_ENV });
    let browser: LaunchedBrowser | undefined;
    let page: Page;
    let fleet: DeviceFleet | undefined;
    let legacy: LegacyEmitter | undefined;
    const pageErrors: string[] = [];
    /** REST reads the page made: path and when, to see it reload after a reconnect. */
    const restReads: Array<{ readonly path: string; readonly at: number }> = [];
    let token = '';
    const hubStats = (): Promise<HubStats> => fetchHubStats(hub.ports.http, token);

    beforeAll(async () => {
      const startHub = async (): Promise<void> => {
        await hub.addUser(VIEWER.username, 'viewer', VIEWER.password);
        await hub.start();
        token = await apiLogin(hub.ports.http, VIEWER.username, VIEWER.password);
      };
      // Both at once (the first PGlite start is slow); whichever succeeded is still closed in afterAll.
      const launching = launchChromium().then((launched) => (browser = launched));
      const [hubStarted, browserLaunched] = await Promise.allSettled([startHub(), launching]);
      if (hubStarted.status === 'rejected') throw hubStarted.reason;
      if (browserLaunched.status === 'rejected') throw browserLaunched.reason;
      const context = (await launching).context;
      page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('request', (request) => {
        const path = new URL(request.url()).pathname;
        if (path.startsWith('/api/')) restReads.push({ path, at: Date.now() });
      });
      await page.goto(hub.url, { waitUntil: 'domcontentloaded', timeout: 15_000 });
    }, 90_000);

    afterAll(async () => {
      fleet?.destroy();
      await legacy?.stop();
      await browser?.close();
      await hub.dispose();
    }, 30_000);

    it('shows the link connected, the streaming devices, and totals equal to /api/v1/stats', async () => {
      await waitUntil(
        'connected indicator',
        () => connectionState(page),
        (state) => state === 'connected',
      );
      expect(await page.locator(byTestId('connection-status')).textContent()).toContain('Connected');

      fleet = new DeviceFleet({ port: hub.ports.tcp, keyId: KEY_ID, secret: SECRET, devices: DEVICES, tickMs: 100 });
      fleet.start();
      legacy = new LegacyEmitter({
        host: '127.0.0.1',
        port: hub.ports.legacy,
        encryptionKey: ENCRYPTION_KEY,
        authToken: AUTH_TOKEN,
        minMessages: LEGACY_BURST,
        maxMessages: LEGACY_BURST,
      });
      await legacy.sendBurst(LEGACY_BURST);
      await legacy.sendBurst(LEGACY_BURST);

      const seen = await waitUntil(
        'devices table lists every streaming device',
        () => deviceIds(page),
        (ids) => [...DEVICES, LEGACY_DEVICE].every((id) => ids.includes(id)),
        UPDATE_WITHIN_MS,
      );
      expect(seen).toEqual(expect.arrayContaining([...DEVICES, LEGACY_DEVICE]));
      await waitUntil(
        'readings/s above zero while streaming',
        () => page.locator(byTestId('readings-per-sec')).textContent(),
        (text) => Number(text) > 0 || /k$/.test(text ?? ''),
        UPDATE_WITHIN_MS,
      );
      await captureState(page, 'live');

      await fleet.stop();
      await legacy.stop();
      const expectedValid = fleet.sent + 2 * LEGACY_BURST;
      const stats = await expectPageToMatchHub(page, hubStats, (s) => s.totalValid >= expectedValid);
      expect(stats.totalValid).toBe(expectedValid);
      expect(stats.totalInvalid).toBe(0);
      expect(await page.locator(byTestId('rejects')).locator('tbody tr').count()).toBe(0);
    });

    it('follows a device by click and by keyboard (focus + Enter), showing its live readings', async () => {
      if (fleet === undefined) throw new Error('the fleet did not start in the first test');
      fleet.start();

      await page.locator(`tr[data-device="${DEVICES[1]}"]`).click();
      await expectFollowing(page, DEVICES[1] ?? '', 1);
      const firstSeq = await newestFollowedSeq(page);
      const laterSeq = await waitUntil(
        'followed readings keep arriving',
        () => newestFollowedSeq(page),
        (seq) => seq > firstSeq,
        UPDATE_WITHIN_MS,
      );
      expect(laterSeq).toBeGreaterThan(firstSeq);

      const row = page.locator(`tr[data-device="${DEVICES[2]}"]`);
      await row.focus();
      expect(await page.locator(':focus').getAttribute('data-device')).toBe(DEVICES[2]);
      await page.keyboard.press('Enter');
      await expectFollowing(page, DEVICES[2] ?? '', 2);
      expect(await page.locator(`tr[data-device="${DEVICES[1]}"]`).getAttribute('aria-current')).toBeNull();
      await captureState(page, 'device-followed');

      await fleet.stop();
    });

    it('lists a tampered native frame and a tampered legacy token as rejects with their reasons and counts', async () => {
      const answer = await sendTamperedFrame(hub.ports.tcp, KEY_ID, SECRET, [
        { device: DEVICES[0] ?? '', seq: 1_000_000, ts: Date.now(), data: { temp: 99 } },
      ]);
      expect(answer.type).toBe(FrameType.Error);
      expect(answer.type === FrameType.Error ? answer.reason : undefined).toBe('integrity_failed');
      await sendTamperedLegacyToken(hub.ports.legacy, ENCRYPTION_KEY, AUTH_TOKEN);

      const stats = await expectPageToMatchHub(page, hubStats, (s) => s.totalInvalid >= 2);
      expect(positive(stats.rejectsByReason)).toEqual({ integrity_failed: 1, legacy_integrity_failed: 1 });

      const rejects = page.locator(byTestId('rejects'));
      for (const [reason, source] of [
        ['integrity_failed', 'tcp'],
        ['legacy_integrity_failed', 'legacy'],
      ] as const) {
        const row = rejects.locator(`tbody tr[data-reason="${reason}"]`);
        await waitUntil(
          `a ${reason} row in the rejects list`,
          () => row.count(),
          (count) => count === 1,
        );
        const cells = await row.locator('td').allTextContents();
        expect(cells[1]).toBe(reason);
        expect(cells[2]).toContain(source);
      }
      const counts = await waitUntil(
        'rejects-by-reason counts equal the hub',
        () => reasonCounts(page),
        (shown) => JSON.stringify(shown) === JSON.stringify(positive(stats.rejectsByReason)),
        UPDATE_WITHIN_MS,
      );
      expect(counts).toEqual({ integrity_failed: 1, legacy_integrity_failed: 1 });
      expect(await page.locator(byTestId('total-invalid')).textContent()).toBe('2');
      await captureState(page, 'rejects');
    });

    it('says the link is down while the hub is stopped and reconnects with refetched totals when it returns', async () => {
      const before = await hubStats();
      expect(await hub.stop()).toBe(0);

      const down = await waitUntil(
        'indicator leaves "connected"',
        () => connectionState(page),
        (state) => state !== null && state !== 'connected',
        UPDATE_WITHIN_MS,
      );
      expect(['connecting', 'reconnecting', 'disconnected']).toContain(down);
      expect(await page.locator(byTestId('connection-status')).textContent()).not.toContain('Connected');
      expect(await page.locator('dl.totals').getAttribute('class')).toContain('is-stale');
      // Never green again by itself while nothing is listening.
      await settle(1500);
      expect(await connectionState(page)).not.toBe('connected');
      await captureState(page, 'disconnected');

      const restartedAt = Date.now();
      await hub.start();
      await waitUntil(
        'indicator back to "connected"',
        () => connectionState(page),
        (s) => s === 'connected',
        20_000,
      );
      expect(await page.locator('dl.totals').getAttribute('class')).not.toContain('is-stale');
      // The page reloads counters and dead letters over REST after the reconnect, not only on page load.
      const reloaded = await waitUntil(
        'REST reload after the reconnect',
        async () => new Set(restReads.filter((read) => read.at >= restartedAt).map((read) => read.path)),
        (paths) => paths.has('/api/v1/stats') && paths.has('/api/v1/dead-letters'),
        UPDATE_WITHIN_MS,
      );
      expect([...reloaded].sort()).toEqual(['/api/v1/dead-letters', '/api/v1/stats']);
      const restarted = await expectPageToMatchHub(page, hubStats, () => true);

      const previous = fleet?.nextSeq ?? 0;
      fleet?.destroy();
      fleet = new DeviceFleet({
        port: hub.ports.tcp,
        keyId: KEY_ID,
        secret: SECRET,
        devices: DEVICES,
        tickMs: 100,
        firstSeq: previous,
      });
      fleet.start();
      await settle(1000);
      await fleet.stop();
      const sentAfter = fleet.sent;
      const after = await expectPageToMatchHub(page, hubStats, (s) => s.totalValid >= restarted.totalValid + sentAfter);
      expect(after.totalValid).toBe(restarted.totalValid + sentAfter);
      expect(after.totalDuplicate).toBe(restarted.totalDuplicate);
      await captureState(page, 'reconnected');
      // Reported, not asserted: whether the hub's counters survive a restart is the hub's contract.
      if (restarted.totalReceived < before.totalReceived) {
        console.warn(
          `browser test: hub totals restarted from ${restarted.totalReceived} (were ${before.totalReceived})`,
        );
      }
      expect(pageErrors).toEqual([]);
    }, 60_000);
  },
);
