/**
 * `hostConformance` against the browser host (`BrowserWorkerHost`: a Web Worker per carrier
 * domain under SES) inside Debian's Chromium: the suite's own properties
 * (test/contracts/host.properties.ts), bundled into a page and run there one by one, each with
 * the test stubs the Node hosts run (published, signed and verified in this process). The
 * memory property is registered as not claimed: a browser bounds no worker's memory
 * (sandbox/README.md, "In a browser").
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { HOST_TEST_STUBS, hostConformance, nodePackages } from '../contracts/host.contract.js';
import type { HostPropertyKey, HostTestStub } from '../contracts/host.properties.js';
import { launchChromium, PAGE_CSP, type PageServer, servePages, WORKER_CSP } from './launch.js';

declare global {
  interface Window {
    hostContract: {
      packages(given: Record<HostTestStub, unknown>): void;
      run(key: HostPropertyKey): Promise<void>;
    };
  }
}

const root = join(import.meta.dirname, '..', '..');
let context: BrowserContext;
let profile: string;
let pages: PageServer;
let page: Page;

beforeAll(async () => {
  const bundled = await build({
    entryPoints: [join(import.meta.dirname, 'host-page.ts')],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    logLevel: 'warning',
  });
  pages = await servePages({
    '/': {
      body: '<!doctype html><meta charset="utf-8"><title>host conformance</title><body><script type="module" src="/host-page.js"></script>',
      type: 'text/html; charset=utf-8',
      csp: PAGE_CSP,
    },
    '/host-page.js': { body: bundled.outputFiles[0]!.text, type: 'text/javascript', csp: PAGE_CSP },
    '/browser-worker.js': {
      body: await readFile(join(root, 'dist', 'browser-worker.js')),
      type: 'text/javascript',
      csp: WORKER_CSP,
    },
  });
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
