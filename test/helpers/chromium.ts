import { existsSync } from 'node:fs';
import { chromium, type BrowserContext } from 'playwright-core';

/** Debian's chromium (test/ensure-system-tools.sh installs it), driven by playwright-core. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * A headless Chromium with its own profile directory (the caller makes a fresh one and removes it),
 * nothing in the background that reaches the network, and no sandbox (tests may run as root).
 * Fails when chromium is missing.
 */
export function launchChromium(userDataDir: string, options: { viewport: { width: number; height: number }; deviceScaleFactor?: number }): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run bash test/ensure-system-tools.sh`);
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    ...options,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
