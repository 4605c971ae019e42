/**
 * What every Chromium test and bench here shares: Debian's /usr/bin/chromium (never a browser
 * a tool downloads), how it is started, and the policies pages and the sandbox worker are
 * served under.
 */
import { existsSync } from 'node:fs';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** What a page is served under: its own scripts only, no eval, no inline script. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*; worker-src 'self'";
/**
 * The sandbox worker's own policy (a dedicated worker's is its script's response's): SES
 * evaluates each stub in a compartment, which takes `'unsafe-eval'`, there and only there.
 */
export const WORKER_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'";

/**
 * Chromium, headless, on a persistent profile in `profile` (IndexedDB survives a page).
 *
 * @throws Error when Chromium is missing: the suites fail, never skip (.ci/run installs it).
 */
export function launchChromium(profile: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Host candidates as addresses, not mDNS names that nothing here would resolve.
      '--disable-features=WebRtcHideLocalIpsWithMdns',
    ],
  });
}
