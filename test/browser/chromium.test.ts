/**
 * protofly/browser in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
 * no browser is downloaded): a page under a strict Content Security Policy runs Alice's runtime
 * for a.example, which loads b.example's json-ws stub from b.example's catalogue, verifies it
 * with WebCrypto, runs it in a Web Worker under SES, and chats with Bob, a Node runtime here.
 * Without Chromium the test fails: `.ci/run` installs it.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transform } from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { type Domains, startDomains } from '../support/domains.js';

const CHROMIUM = '/usr/bin/chromium';
const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const root = join(import.meta.dirname, '..', '..');

/** What the page is served under: its own scripts only, no eval, no inline script. */
const PAGE_CSP =
  "default-src 'self'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*; worker-src 'self'";
/**
 * The sandbox worker's own policy (a dedicated worker's is its script's response's): SES
 * evaluates each stub in a compartment, which takes `'unsafe-eval'`, there and only there.
 */
const WORKER_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'";

let domains: Domains;
let host: NodeWorkerHost;
let server: Server;
let origin: string;
let context: BrowserContext;
let profile: string;

/**
 * The page's origin: the page, its script, the built package and worker, a token endpoint for
 * the test's Alice and Bob (tokens issued by their home domain, as its token endpoint would
 * after a log-in), and
 * `/tampered-b/`: b.example's catalogue with every package byte-flipped (`/packages/` is where
 * its descriptors' package URLs land).
 */
async function startPageServer(): Promise<void> {
  const page = (
    await transform(await readFile(join(import.meta.dirname, 'page.ts'), 'utf8'), {
      loader: 'ts',
      format: 'esm',
    })
  ).code;
  const files: Record<string, { body: string | Buffer; csp: string }> = {
    '/': {
      body: '<!doctype html><meta charset="utf-8"><title>protofly</title><body><script type="module" src="/page.js"></script>',
      csp: PAGE_CSP,
    },
    '/page.js': { body: page, csp: PAGE_CSP },
    '/browser.js': { body: await readFile(join(root, 'dist', 'browser.js')), csp: PAGE_CSP },
    '/browser-worker.js': { body: await readFile(join(root, 'dist', 'browser-worker.js')), csp: WORKER_CSP },
    // The worker under the page's own policy: SES may not evaluate there.
    '/browser-worker-strict.js': {
      body: await readFile(join(root, 'dist', 'browser-worker.js')),
      csp: PAGE_CSP,
    },
  };
  const b = domains.catalogues['b.example']!;
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = files[url.pathname];
    if (file) {
      res.writeHead(200, {
        'content-type': url.pathname === '/' ? 'text/html; charset=utf-8' : 'text/javascript; charset=utf-8',
        'content-security-policy': file.csp,
        'cache-control': 'no-store',
      });
      return res.end(file.body);
    }
    if (url.pathname === '/token') {
      const audience = url.searchParams.get('audience') ?? '';
      const address = url.searchParams.get('address') ?? '';
      const home = domains.byName.get(address === BOB ? 'b.example' : 'a.example')!;
      void home.identity.issue(address, 600, audience).then((token) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(token);
      });
      return;
    }
    const tampered = url.pathname.startsWith('/tampered-b/');
    if (tampered || url.pathname.startsWith('/packages/')) {
      const upstream = b + (tampered ? url.pathname.slice('/tampered-b'.length) : url.pathname);
      void fetch(upstream).then(async (r) => {
        const bytes = Buffer.from(await r.arrayBuffer());
        if (!tampered && bytes.length > 0) bytes[bytes.length >> 1]! ^= 1;
        res.writeHead(r.status, {
          'content-type': r.headers.get('content-type') ?? 'application/octet-stream',
        });
        res.end(bytes);
      });
      return;
    }
    // The browser asks for /favicon.ico: an answer without a body, not a 404 in the page's console.
    res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A fresh page of the test's browser, loaded and ready. */
async function openPage(): Promise<Page> {
  const page = await context.newPage();
  // The page's and its worker's console, for a failure's story.
  page.on('console', (m) => console.log(`[page ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${origin}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  return page;
}

beforeAll(async () => {
  // Fails, never skips: the suite needs the browser (.ci/run installs Debian's chromium).
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  domains = await startDomains(['a.example', 'b.example']);
  host = new NodeWorkerHost({ policy: developmentPolicy });
  await startPageServer();
  profile = await mkdtemp(join(tmpdir(), 'pf-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
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
}, 120_000);

afterAll(async () => {
  await context?.close();
  if (server) await new Promise((resolve) => server.close(resolve));
  await domains?.close();
  await host?.terminate();
  if (profile) await rm(profile, { recursive: true, force: true });
});

describe('protofly/browser in Chromium', () => {
  it('a page loads b.example’s stub, verified with WebCrypto, runs it in a Web Worker and chats with Bob both ways, under a strict CSP', async () => {
    const bob = domains.runtime(BOB, { host });
    await bob.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));

    const page = await openPage();
    const settings = { address: ALICE, catalogues: domains.catalogues, database: 'protofly-chat' };
    const opened = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [settings, BOB] as const);
    expect(opened).toMatchObject({
      carrier: { domain: 'b.example', name: 'json-ws', protocol: 'json-ws' },
      status: 'live',
    });

    expect(await page.evaluate(() => window.pf.send('Hi Bob from a page'))).toMatchObject({ code: 200 });
    const withAlice = await incoming;
    expect(withAlice.peer).toBe(ALICE);
    const first = await withAlice[Symbol.asyncIterator]().next();
    expect(first.value?.body).toEqual({ kind: 'chat', text: 'Hi Bob from a page' });

    await withAlice.send('Hi Alice in Chromium');
    const reply = await page.evaluate(() => window.pf.next());
    expect(reply).toMatchObject({ from: BOB, body: { kind: 'chat', text: 'Hi Alice in Chromium' } });

    expect(await page.evaluate(() => window.pf.violations)).toEqual([]);
    await page.close();
  }, 60_000);

  it('refuses a tampered package in the page with PF_ERR_INTEGRITY, and runs nothing', async () => {
    const page = await openPage();
    const settings = {
      address: ALICE,
      catalogues: { ...domains.catalogues, 'b.example': `${origin}/tampered-b` },
      database: 'protofly-tampered',
    };
    const opened = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [settings, BOB] as const);
    expect(opened).toMatchObject({ refused: { code: 'PF_ERR_INTEGRITY' } });
    expect((opened as { refused: { message: string } }).refused.message).toMatch(
      /b\.example\/json-ws.*sha384-/,
    );
    expect(await page.evaluate(() => window.pf.violations)).toEqual([]);
    await page.close();
  }, 60_000);

  it('a WebRTC call between two pages of two domains connects, its offer, answer and candidates carried by b.example’s stub', async () => {
    const [alicePage, bobPage] = [await openPage(), await openPage()];
    const bob = { address: BOB, catalogues: domains.catalogues, database: 'protofly-bob' };
    expect(await bobPage.evaluate((s) => window.pf.register(s), bob)).toEqual({ registered: true });
    const alice = { address: ALICE, catalogues: domains.catalogues, database: 'protofly-alice' };
    const opened = await alicePage.evaluate(([s, peer]) => window.pf.open(s, peer), [alice, BOB] as const);
    expect(opened).toMatchObject({ status: 'live' });

    const call = (await alicePage.evaluate(() => window.pf.call())) as { ice: string; rttMs: number };
    expect(['connected', 'completed']).toContain(call.ice);
    expect(call.rttMs).toBeGreaterThan(0);
    expect(['connected', 'completed']).toContain(await bobPage.evaluate(() => window.pf.answered));
    for (const page of [alicePage, bobPage]) {
      expect(await page.evaluate(() => window.pf.violations)).toEqual([]);
      await page.close();
    }
  }, 60_000);

  it('fails closed with PF_ERR_SANDBOX naming the directive when the worker’s own policy forbids evaluation', async () => {
    const page = await openPage();
    const settings = {
      address: ALICE,
      catalogues: domains.catalogues,
      database: 'protofly-strict',
      worker: '/browser-worker-strict.js',
    };
    const opened = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [settings, BOB] as const);
    expect(opened).toMatchObject({ refused: { code: 'PF_ERR_SANDBOX' } });
    expect((opened as { refused: { message: string } }).refused.message).toMatch(
      /could not be evaluated.*unsafe-eval/,
    );
    await page.close();
  }, 60_000);
});

declare global {
  interface Window {
    pf: {
      violations: string[];
      open(settings: unknown, peer: string): Promise<unknown>;
      register(settings: unknown): Promise<unknown>;
      call(): Promise<unknown>;
      answered: Promise<string> | undefined;
      send(text: string): Promise<unknown>;
      next(): Promise<unknown>;
    };
  }
}
