/**
 * Session renewal in a real Chromium against a real hub whose tokens live only 30 s (the smallest
 * `--token-ttl-seconds` / SEALSTREAM_TOKEN_TTL_SECONDS allows). A user signs in, follows a streaming
 * device, and keeps watching well past the first token's expiry: the page must renew the token in the
 * background (POST /api/v1/auth/refresh), store it, move the live link to it without the link ever
 * leaving "connected" or an outage being noticed, keep the followed device's readings arriving, and
 * keep the REST API working with the new token.
 *
 * Needs the build and /usr/bin/chromium, like dashboard.test.ts; skipped with the reason when either is
 * missing, failed when CI=true.
 */
import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, type LaunchedBrowser } from './support/chromium.js';
import { byTestId, connectionState, openView, parseCount, signIn, waitUntil } from './support/dashboard-page.js';
import { DeviceFleet } from './support/device-fleet.js';
import { CLI_PATH, hubBuilt, HubServer } from './support/hub-server.js';

const ci = process.env.CI === 'true';
const skipReason = !chromiumInstalled
  ? `${CHROMIUM_PATH} is missing (install the distribution's chromium package; .ci/run does)`
  : !hubBuilt
    ? `the build is missing (${CLI_PATH} or the dashboard bundle; run npm run build)`
    : null;
if (ci && skipReason !== null) throw new Error(`browser tests cannot run on CI: ${skipReason}`);

const TTL_SECONDS = 30;
const KEY_ID = 'refresh-fleet';
const SECRET = randomBytes(32);
const DEVICES = ['rf-sensor-1', 'rf-sensor-2'];
const USER = { username: 'refresh-viewer', password: randomBytes(18).toString('base64url') };

interface StoredSession {
  readonly token: string;
  readonly expiresAt: number;
}

const storedSession = (page: Page): Promise<StoredSession> =>
  page.evaluate<StoredSession>(`JSON.parse(sessionStorage.getItem('sealstream.session') ?? '{}')`);

/** Newest seq in the followed device's readings table. */
async function newestFollowedSeq(page: Page): Promise<number> {
  const first = page
    .locator(`${byTestId('device-readings')} table.readings-table tbody tr:not(.spacer-row)`)
    .first()
    .locator('td')
    .first();
  return parseCount(await first.textContent({ timeout: 5000 }));
}

describe.skipIf(skipReason !== null)(
  `session renewal in Chromium against a hub with ${TTL_SECONDS} s tokens${skipReason === null ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    const hub = new HubServer({
      env: {
        SEALSTREAM_DEVICE_KEYS: `${KEY_ID}:${SECRET.toString('hex')}`,
        SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
        SEALSTREAM_TOKEN_TTL_SECONDS: String(TTL_SECONDS),
        // The harness waits for all three listeners, the legacy one included.
        ENCRYPTION_KEY: 'refresh-test-encryption-key',
        AUTH_TOKEN: 'refresh-test-auth-token',
      },
    });
    let browser: LaunchedBrowser | undefined;
    let page: Page;
    let fleet: DeviceFleet | undefined;
    const pageErrors: string[] = [];
    const refreshes: Array<{ at: number; status: number }> = [];
    const sockets: string[] = [];

    beforeAll(async () => {
      const startHub = async (): Promise<void> => {
        await hub.addUser(USER.username, 'viewer', USER.password);
        await hub.start();
      };
      const launching = launchChromium().then((launched) => (browser = launched));
      const [hubStarted, browserLaunched] = await Promise.allSettled([startHub(), launching]);
      if (hubStarted.status === 'rejected') throw hubStarted.reason;
      if (browserLaunched.status === 'rejected') throw browserLaunched.reason;
      const context = (await launching).context;
      page = context.pages()[0] ?? (await context.newPage());
      page.setDefaultTimeout(10_000);
      page.on('pageerror', (error) => pageErrors.push(error.message));
      page.on('response', (response) => {
        if (new URL(response.url()).pathname === '/api/v1/auth/refresh') {
          refreshes.push({ at: Date.now(), status: response.status() });
        }
      });
      page.on('websocket', (socket) => sockets.push(socket.url()));
      await page.goto(hub.url, { waitUntil: 'domcontentloaded', timeout: 15_000 });
    }, 90_000);

    afterAll(async () => {
      fleet?.destroy();
      await browser?.close();
      await hub.dispose();
    }, 30_000);

    it('stays signed in and live past the first token expiry, renewing the token in the background', async () => {
      await signIn(page, USER);
      const signedInAt = Date.now();
      const first = await storedSession(page);
      expect(first.expiresAt).toBeGreaterThan(signedInAt);
      expect(first.expiresAt).toBeLessThanOrEqual(signedInAt + TTL_SECONDS * 1000 + 1000);
      await waitUntil(
        'connected',
        () => connectionState(page),
        (state) => state === 'connected',
      );

      fleet = new DeviceFleet({ port: hub.ports.tcp, keyId: KEY_ID, secret: SECRET, devices: DEVICES, tickMs: 100 });
      fleet.start();
      await page.locator(`tr[data-device="${DEVICES[0]}"]`).click();
      await waitUntil(
        'followed readings',
        () => newestFollowedSeq(page),
        (seq) => seq > 0,
      );

      // Watch the link state and the followed readings until well past the first token's expiry.
      const states = new Set<string>();
      const watchUntil = first.expiresAt + 8_000;
      let seqAtExpiry = Number.NaN;
      while (Date.now() < watchUntil) {
        states.add((await connectionState(page)) ?? 'none');
        if (Number.isNaN(seqAtExpiry) && Date.now() >= first.expiresAt) seqAtExpiry = await newestFollowedSeq(page);
        await page.waitForTimeout(250);
      }
      const seqAfter = await waitUntil(
        'followed readings keep arriving after the first token expired',
        () => newestFollowedSeq(page),
        (seq) => seq > seqAtExpiry,
      );

      // Still signed in, never disconnected, no outage to back-fill.
      expect(await page.locator(byTestId('login-form')).count()).toBe(0);
      expect(await page.locator(byTestId('signed-in-user')).textContent()).toContain(USER.username);
      expect([...states]).toEqual(['connected']);
      expect(await page.locator(byTestId('live-backfilled')).count()).toBe(0);
      expect(seqAfter).toBeGreaterThan(seqAtExpiry);

      // Renewed at about 80 % of the token's life, before it expired, and stored.
      const renewed = refreshes.filter((refresh) => refresh.status === 200);
      expect(renewed.length).toBeGreaterThanOrEqual(1);
      expect(renewed[0]?.at).toBeLessThan(first.expiresAt);
      expect(renewed[0]?.at).toBeGreaterThan(signedInAt + TTL_SECONDS * 1000 * 0.6);
      const current = await storedSession(page);
      expect(current.token).not.toBe(first.token);
      expect(current.expiresAt).toBeGreaterThan(first.expiresAt);
      // The live link moved to the new token on a second socket (the hub closes the first at its expiry).
      expect(sockets.length).toBeGreaterThanOrEqual(2);

      // The REST API answers with the renewed token: the history view lists the streaming devices.
      await openView(page, 'history');
      await waitUntil(
        'the device picker lists the fleet (a REST call made after the first token expired)',
        () => page.locator(`${byTestId('device-picker')} input[data-device]`).count(),
        (count) => count >= DEVICES.length,
      );
      expect(await page.locator(byTestId('login-form')).count()).toBe(0);
      await fleet.stop();
      expect(pageErrors).toEqual([]);
    }, 90_000);
  },
);
