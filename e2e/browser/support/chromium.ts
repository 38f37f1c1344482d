/**
 * The system Chromium the browser tests drive through playwright-core: whether it is installed, and a
 * headless launch with a fresh profile directory that is deleted again on close. No browser is ever
 * downloaded; CI installs the distribution's package (.ci/run).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';
export const chromiumInstalled = existsSync(CHROMIUM_PATH);

/** Flags that keep Chromium quiet, offline (apart from the pages it is sent to) and container-friendly. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export interface Viewport {
  readonly width: number;
  readonly height: number;
}

export const LAPTOP: Viewport = { width: 1366, height: 768 };
export const TABLET: Viewport = { width: 820, height: 1180 };

export interface LaunchedBrowser {
  readonly context: BrowserContext;
  /** Closes the browser (bounded) and deletes its profile directory. */
  close(): Promise<void>;
}

const CLOSE_TIMEOUT_MS = 10_000;

export async function launchChromium(viewport: Viewport = LAPTOP): Promise<LaunchedBrowser> {
  const profileDir = await mkdtemp(join(tmpdir(), 'sealstream-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { ...viewport },
      timeout: 30_000,
    });
  } catch (error) {
    await rm(profileDir, { recursive: true, force: true });
    throw error;
  }
  return {
    context,
    async close() {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
      try {
        await Promise.race([context.close(), timedOut]);
      } finally {
        // playwright-core also kills the browser it launched when this process exits.
        clearTimeout(timer);
        await rm(profileDir, { recursive: true, force: true });
      }
    },
  };
}
