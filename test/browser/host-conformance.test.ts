/**
 * `hostConformance` against the browser host (`BrowserWorkerHost`: a Web Worker per carrier
 * domain under SES) inside Debian's Chromium: the suite's own properties
 * (test/contracts/host.properties.ts), bundled into a page and run there one by one, each with
 * the test stubs the Node hosts run (published, signed and verified in this process). The
 * memory property is registered as not claimed: a browser bounds no worker's memory
 * (sandbox/README.md, "In a browser").
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_TEST_STUBS, hostConformance, nodePackages } from '../contracts/host.contract.js';
import type { HostPropertyKey, HostTestStub } from '../contracts/host.properties.js';
import { launchChromium, type PageServer, serveHostPage } from './launch.js';

declare global {
  interface Window {
    hostContract: {
      packages(given: Record<HostTestStub, unknown>): void;
      run(key: HostPropertyKey): Promise<void>;
      spares(): Promise<number[]>;
    };
  }
}

let context: BrowserContext;
let profile: string;
let pages: PageServer;
let page: Page;

beforeAll(async () => {
  pages = await serveHostPage(join(import.meta.dirname, 'host-page.ts'), 'host conformance');
  const packages = Object.fromEntries(
    await Promise.all(HOST_TEST_STUBS.map(async (folder) => [folder, await nodePackages(folder)] as const)),
  ) as Record<HostTestStub, unknown>;
  profile = await mkdtemp(join(tmpdir(), 'pf-host-chromium-'));
  context = await launchChromium(profile);
  page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${pages.origin}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  await page.evaluate((given) => window.hostContract.packages(given), packages);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await pages?.close();
  if (profile) await rm(profile, { recursive: true, force: true });
});

hostConformance(
  {
    name: 'BrowserWorkerHost in Chromium',
    limits: { memory: false, cpu: true },
    // A page can read only its own heap (performance.measureUserAgentSpecificMemory needs
    // cross-origin isolation), not a Worker's apart from it.
    measures: false,
    unclaimed:
      "a browser sets no heap limit on a Web Worker and the browser worker meters no array buffers, so attack-memory is declared for Node only and the page's host refuses it (sandbox/README.md, In a browser)",
  },
  (key) => page.evaluate((k) => window.hostContract.run(k), key),
);

describe('BrowserWorkerHost in Chromium: its warm spare', () => {
  it('starts the next spare once the stub on the spare is live, not while it connects', async () => {
    // The spare; still the spare alone while the stub connects; a new one once it is live.
    expect(await page.evaluate(() => window.hostContract.spares())).toEqual([1, 1, 2]);
  });
});
