/**
 * Reading the dashboard as a user sees it (text in the page, found by its data-testid hooks), waiting
 * for it to agree with the hub, and saving screenshots of a state at laptop and tablet widths under
 * test-output/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { LAPTOP, TABLET, type Viewport } from './chromium.js';
import type { HubStats } from './hub-server.js';

export const SCREENSHOT_DIR = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url));

export const byTestId = (id: string): string => `[data-testid="${id}"]`;

export interface PageTotals {
  readonly received: number;
  readonly valid: number;
  readonly invalid: number;
  readonly duplicate: number;
  /** Percent as printed, e.g. 99.5 for "99.5%". */
  readonly successRate: number;
}

/** "1,234" -> 1234; "–" (no stats yet) -> NaN. */
export function parseCount(text: string | null): number {
  const cleaned = (text ?? '').trim().replace(/,/g, '');
  return /^\d+$/.test(cleaned) ? Number(cleaned) : Number.NaN;
}

function parsePercent(text: string | null): number {
  const match = /^([\d.]+)%$/.exec((text ?? '').trim());
  return match === null ? Number.NaN : Number(match[1]);
}

export async function readTotals(page: Page): Promise<PageTotals> {
  const text = (id: string): Promise<string | null> => page.locator(byTestId(id)).textContent({ timeout: 5000 });
  const [received, valid, invalid, duplicate, successRate] = await Promise.all([
    text('total-received'),
    text('total-valid'),
    text('total-invalid'),
    text('total-duplicate'),
    text('success-rate'),
  ]);
  return {
    received: parseCount(received),
    valid: parseCount(valid),
    invalid: parseCount(invalid),
    duplicate: parseCount(duplicate),
    successRate: parsePercent(successRate),
  };
}

/** The page's counters equal the hub's, and its success rate is the hub's rounded to two decimals. */
export function totalsMatch(page: PageTotals, hub: HubStats): boolean {
  return (
    page.received === hub.totalReceived &&
    page.valid === hub.totalValid &&
    page.invalid === hub.totalInvalid &&
    page.duplicate === hub.totalDuplicate &&
    Math.abs(page.successRate - hub.successRate) <= 0.01
  );
}

export async function connectionState(page: Page): Promise<string | null> {
  return page.locator(byTestId('connection-status')).getAttribute('data-state', { timeout: 5000 });
}

/**
 * Polls `probe` every `everyMs` until `done(value)` or `timeoutMs`; throws with the last value seen,
 * so a failure says what the page showed instead of only "timed out".
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 10_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  let lastError: unknown;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (done(last)) return last;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const seen = lastError !== undefined ? String(lastError) : JSON.stringify(last);
      throw new Error(`${what}: not true within ${timeoutMs} ms; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

const WIDTHS: ReadonlyArray<readonly [string, Viewport]> = [
  ['laptop', LAPTOP],
  ['tablet', TABLET],
];

/**
 * Full-page screenshots of the current state at laptop and tablet sizes (`<name>-laptop.png`,
 * `<name>-tablet.png`); the page is left at laptop size. Returns the files written.
 */
export async function captureState(page: Page, name: string): Promise<string[]> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const files: string[] = [];
  for (const [label, viewport] of WIDTHS) {
    await page.setViewportSize({ ...viewport });
    // Let the layout settle and the 4 Hz render pump paint at the new size.
    await page.waitForTimeout(300);
    const file = `${SCREENSHOT_DIR}${name}-${label}.png`;
    await page.screenshot({ path: file, fullPage: true, timeout: 10_000 });
    files.push(file);
  }
  await page.setViewportSize({ ...LAPTOP });
  return files;
}

export interface Account {
  readonly username: string;
  readonly password: string;
}

/** Fills and submits the sign-in form; resolves once the signed-in header shows the account. */
export async function signIn(page: Page, account: Account): Promise<void> {
  const form = page.locator(byTestId('login-form'));
  await form.waitFor({ state: 'visible', timeout: 15_000 });
  await form.getByLabel('User name').fill(account.username);
  await form.getByLabel('Password').fill(account.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await page.locator(byTestId('signed-in-user')).waitFor({ state: 'visible', timeout: 10_000 });
}

/** The header's sign-out button; resolves once the sign-in form is back. */
export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.locator(byTestId('login-form')).waitFor({ state: 'visible', timeout: 10_000 });
}

/** Follows the navigation link of a view (as a user would) and waits for the view to be shown. */
export async function openView(page: Page, view: 'live' | 'history' | 'devices' | 'dead-letters'): Promise<void> {
  await page.locator(byTestId(`nav-${view}`)).click();
  await page.locator(`main[data-view="${view}"]`).waitFor({ state: 'visible', timeout: 10_000 });
}
