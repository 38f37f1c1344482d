/**
 * The live throughput chart a user sees on opening the dashboard: it starts with the last minutes the
 * hub already measured (GET /api/v1/stats/rates), not empty. Devices send for a few seconds and stop;
 * a page opened afterwards, when the live rate is 0, must still draw the earlier peak. Needs the build
 * and /usr/bin/chromium; skipped with the reason when either is missing, failed when CI=true.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { NativeClient } from '@sealstream/emitter';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium, type LaunchedBrowser } from './support/chromium.js';
import { byTestId, signIn, waitUntil } from './support/dashboard-page.js';
import { apiLogin, CLI_PATH, fetchHubStats, hubBuilt, HubServer } from './support/hub-server.js';

const skipReason = !chromiumInstalled
  ? `${CHROMIUM_PATH} is missing`
  : !hubBuilt
    ? `the build is missing (${CLI_PATH} or the dashboard bundle; run npm run build)`
    : null;
if (process.env.CI === 'true' && skipReason !== null) throw new Error(`browser tests cannot run on CI: ${skipReason}`);
if (skipReason !== null) console.warn(`skipping the throughput back-fill browser test: ${skipReason}`);

const SECRET = randomBytes(32);
const VIEWER = { username: 'rates-viewer', password: randomBytes(18).toString('base64url') };
const hub = new HubServer({
  env: {
    SEALSTREAM_DEVICE_KEYS: `rates-key:${SECRET.toString('hex')}`,
    SEALSTREAM_JWT_SECRET: randomBytes(32).toString('hex'),
    // HubServer waits for the legacy listener too.
    ENCRYPTION_KEY: 'rates-test-encryption-key',
    AUTH_TOKEN: 'rates-test-auth-token',
  },
});
let browser: LaunchedBrowser | undefined;

afterAll(async () => {
  await browser?.close();
  await hub.dispose();
}, 30_000);

describe.skipIf(skipReason !== null)('throughput chart on page load', () => {
  it('draws the rates the hub measured before the page was opened', async () => {
    await hub.addUser(VIEWER.username, 'viewer', VIEWER.password);
    await hub.start();
    const token = await apiLogin(hub.ports.http, VIEWER.username, VIEWER.password);

    const client = new NativeClient({ host: '127.0.0.1', port: hub.ports.tcp, keyId: 'rates-key', secret: SECRET });
    const seqStart = Date.now();
    for (let i = 0; i < 40; i += 1) {
      for (let j = 0; j < 25; j += 1) {
        const seq = seqStart + i * 25 + j;
        await client.send({ device: 'rates-dev', seq, ts: Date.now(), data: { v: j } });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await client.flush();
    await client.close();
    // Devices have stopped: the live rate falls to 0 (a 5 s window), so only a back-fill shows the peak.
    await waitUntil(
      'the live rate to fall to 0',
      () => fetchHubStats(hub.ports.http, token),
      (stats) => stats.readingsPerSec === 0,
      30_000,
    );

    browser = await launchChromium();
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(hub.url, { waitUntil: 'domcontentloaded', timeout: 30_000 });
    await signIn(page, VIEWER);
    const summary = page.locator(byTestId('rates-summary'));
    await waitUntil(
      'the chart to show the earlier rates',
      async () => Number(await summary.getAttribute('data-peak')),
      (peak) => peak > 0,
      10_000,
    );
    expect(Number(await summary.getAttribute('data-points'))).toBeGreaterThan(5);
    expect(await summary.textContent()).toMatch(/peak [1-9][\d.,k]* readings\/s/);
  }, 300_000);
});
