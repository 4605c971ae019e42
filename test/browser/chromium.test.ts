/**
 * protofly/browser in a real Chromium (Debian's /usr/bin/chromium, driven by playwright-core;
 * no browser is downloaded): a page under a strict Content Security Policy runs Alice's runtime
 * for a.example, which loads b.example's json-ws stub from b.example's catalogue, verifies it
 * with WebCrypto, runs it in a Web Worker under SES, and chats with Bob, a Node runtime here.
 * The page, the catalogues, the token endpoints and the nodes are each on an origin of their
 * own (loopback ports), as on the web: the domains let the page's origin log in and connect,
 * and refuse the same page served from another one. Without Chromium the test fails: `.ci/run`
 * installs it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../plugins/backends/identity-static/password.js';
import type { Conversation } from '../../runtime/conversation.js';
import { developmentPolicy } from '../../runtime/policy.js';
import { NodeWorkerHost } from '../../sandbox/node/worker-host.js';
import { releaseStub } from '../../server/release.js';
import { eventually } from '../support/conversation.js';
import { type Domains, startDomains } from '../support/domains.js';
import { bundlePage, launchChromium, PAGE_CSP, WORKER_CSP } from './launch.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const PASSWORD = 'correct horse';
/** A user of b.example whom only the cross-origin page talks to. */
const DAVE = 'user://b.example/dave';
/** A user of b.example whom only the live-swap test talks to. */
const ERIN = 'user://b.example/erin';
const root = join(import.meta.dirname, '..', '..');

let domains: Domains;
let host: NodeWorkerHost;
let server: Server;
let origin: string;
/** The same pages on another origin, which the domains do not allow. */
let other: Server;
let otherOrigin: string;
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
  const page = await bundlePage(join(import.meta.dirname, 'page.ts'));
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
  const handler = (req: IncomingMessage, res: ServerResponse) => {
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
      const upstream =
        domains.catalogues['b.example']! +
        (tampered ? url.pathname.slice('/tampered-b'.length) : url.pathname);
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
  };
  const listen = async (s: Server) => {
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
  };
  server = createServer(handler);
  origin = await listen(server);
  other = createServer(handler);
  otherOrigin = await listen(other);
}

/** A fresh page of the test's browser, loaded and ready, from `at` (default the allowed origin). */
async function openPage(at = origin): Promise<Page> {
  const page = await context.newPage();
  // The page's and its worker's console, for a failure's story.
  page.on('console', (m) => console.log(`[page ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`${at}/`);
  await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
  return page;
}

beforeAll(async () => {
  await startPageServer();
  // The page's origin may log in at each domain and connect to its node; otherOrigin may not.
  domains = await startDomains(['a.example', 'b.example'], undefined, {
    browsers: { token: [origin], messaging: [origin] },
    users: new Map([['alice', await hashPassword(PASSWORD)]]),
  });
  host = new NodeWorkerHost({ policy: developmentPolicy });
  profile = await mkdtemp(join(tmpdir(), 'pf-chromium-'));
  context = await launchChromium(profile);
}, 120_000);

afterAll(async () => {
  await context?.close();
  for (const s of [server, other]) if (s) await new Promise((resolve) => s.close(resolve));
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

  it('checks a package kept in IndexedDB again: one a script of the origin replaced there is refused with PF_ERR_INTEGRITY and runs nothing', async () => {
    const settings = { address: ALICE, catalogues: domains.catalogues, database: 'protofly-planted' };
    const first = await openPage();
    expect(
      await first.evaluate(([s, peer]) => window.pf.open(s, peer), [settings, BOB] as const),
    ).toMatchObject({
      status: 'live',
    });
    await first.close();
    const descriptor = (await (
      await fetch(`${domains.catalogues['b.example']}/.well-known/protofly/stub/default`)
    ).json()) as { sourcePackage: { integrity: string } };
    const later = await openPage();
    // What any script of the page's origin can do: write the runtime's database.
    await later.evaluate(
      ([db, key]) => window.pf.plant(db, key, 'export default () => { globalThis.planted = true };'),
      [settings.database, `pkg:${descriptor.sourcePackage.integrity}`] as const,
    );
    const opened = await later.evaluate(([s, peer]) => window.pf.open(s, peer), [settings, BOB] as const);
    expect(opened).toMatchObject({ refused: { code: 'PF_ERR_INTEGRITY' } });
    expect((opened as { refused: { message: string } }).refused.message).toMatch(/json-ws@[^ ]+ \(cached\)/);
    expect(await later.evaluate(() => window.pf.violations)).toEqual([]);
    await later.close();
  }, 60_000);

  it('a WebRTC call between two pages of two domains connects, its offer, answer and candidates carried by b.example’s stub', async () => {
    const [alicePage, bobPage] = [await openPage(), await openPage()];
    const bob = { address: BOB, catalogues: domains.catalogues, database: 'protofly-bob' };
    expect(await bobPage.evaluate((s) => window.pf.register(s), bob)).toEqual({ registered: true });
    const alice = { address: ALICE, catalogues: domains.catalogues, database: 'protofly-alice' };
    const opened = await alicePage.evaluate(([s, peer]) => window.pf.open(s, peer), [alice, BOB] as const);
    expect(opened).toMatchObject({ status: 'live' });

    const call = (await alicePage.evaluate(() => window.pf.call())) as {
      connected: boolean;
      rttMs: number;
      remoteTracks: string[];
    };
    expect(call.connected).toBe(true);
    expect(call.rttMs).toBeGreaterThan(0);
    expect(call.remoteTracks.sort()).toEqual(['audio', 'video']);
    expect(await bobPage.evaluate(() => window.pf.answered)).toBe('connected');
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

describe('protofly/browser across origins', () => {
  /** `ws://host:port/` as the origin of its HTTP side (where a node serves its token endpoint). */
  const originOf = (url: string) => new URL(url.replace(/^ws/, 'http')).origin;
  const settings = (database: string) => ({
    address: ALICE,
    password: PASSWORD,
    catalogues: domains.catalogues,
    database,
  });

  it('a page logs in at a.example’s token endpoint, loads b.example’s stub and chats with Dave through b.example’s node, each on another origin that allows the page', async () => {
    const [a, b] = [domains.byName.get('a.example')!, domains.byName.get('b.example')!];
    const origins = [origin, originOf(a.nodeUrl), a.catalogueUrl, b.catalogueUrl, originOf(b.nodeUrl)];
    expect(new Set(origins.map((o) => new URL(o).origin)).size).toBe(5);
    const dave = domains.runtime(DAVE, { host });
    await dave.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => dave.runtime.on('conversation', resolve));

    const page = await openPage();
    const opened = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [
      settings('protofly-cors'),
      DAVE,
    ] as const);
    expect(opened).toMatchObject({ carrier: { domain: 'b.example' }, status: 'live' });
    expect(await page.evaluate(() => window.pf.send('Hi Dave, logged in from a page'))).toMatchObject({
      code: 200,
    });
    const first = await (await incoming)[Symbol.asyncIterator]().next();
    expect(first.value?.body).toEqual({ kind: 'chat', text: 'Hi Dave, logged in from a page' });
    expect(await page.evaluate(() => window.pf.violations)).toEqual([]);
    await page.close();
  }, 60_000);

  it('refuses the same page from an origin the domains do not allow: PF_ERR_ORIGIN before its log-in, and 403 at b.example’s node', async () => {
    const page = await openPage(otherOrigin);
    const refused = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [
      settings('protofly-refused'),
      BOB,
    ] as const);
    expect(refused).toMatchObject({ refused: { code: 'PF_ERR_ORIGIN' } });
    expect((refused as { refused: { message: string } }).refused.message).toContain(
      `pages of ${otherOrigin} may not log in at the token endpoint of a.example, which serves pages of ${origin}`,
    );
    await page.close();

    // With a token from elsewhere (the page's own server), the page gets as far as b.example's
    // node, which refuses the WebSocket (403): the browser shows the page a failed socket only,
    // so the conversation does not go live; the node counted the refusal.
    const b = domains.byName.get('b.example')!;
    const refusals = async () =>
      Number(
        /protofly_node_refused_total\{code="PF_ERR_ORIGIN"\} (\d+)/.exec(
          await (await fetch(`${b.adminUrl}/metrics`)).text(),
        )?.[1] ?? 0,
      );
    const before = await refusals();
    const tokened = await openPage(otherOrigin);
    const { password: _, ...withTokens } = settings('protofly-refused-node');
    const failed = await tokened.evaluate(([s, peer]) => window.pf.open(s, peer), [withTokens, BOB] as const);
    expect(failed).toMatchObject({
      refused: { code: 'PF_ERR_TIMEOUT', message: expect.stringMatching(/was not live/) },
    });
    expect(await refusals()).toBeGreaterThan(before);
    await tokened.close();
  }, 60_000);

  it('a version b.example publishes reaches the page through its EventSource', async () => {
    const b = domains.byName.get('b.example')!;
    const page = await openPage();
    const opened = await page.evaluate(([s, peer]) => window.pf.open(s, peer), [
      settings('protofly-updates'),
      BOB,
    ] as const);
    expect(opened).toMatchObject({ carrier: { domain: 'b.example', version: '0.1.0' }, status: 'live' });
    const events = `${b.catalogueUrl}/.well-known/protofly/events`;
    await page.waitForFunction((url) => window.pf.streams.connected.includes(url), events);

    await releaseStub(b, { pluginDir: join(root, 'plugins', 'stubs', 'json-ws'), version: '0.2.0' });
    expect(await page.evaluate(() => window.pf.update('0.2.0'))).toMatchObject({
      domain: 'b.example',
      carrier: { domain: 'b.example', name: 'json-ws', version: '0.2.0' },
    });
    expect(await page.evaluate(() => window.pf.streams.published)).toContainEqual(
      JSON.stringify({ kind: 'stub', name: 'json-ws', version: '0.2.0' }),
    );
    await page.close();
  }, 60_000);

  it('a chat goes on through a live swap in the page: b.example releases a version mid-chat, the page swaps its stub, nothing is lost, doubled or reordered either way', async () => {
    const b = domains.byName.get('b.example')!;
    const erin = domains.runtime(ERIN, { host });
    await erin.runtime.register();
    const incoming = new Promise<Conversation>((resolve) => erin.runtime.on('conversation', resolve));
    const page = await openPage();
    const opened = (await page.evaluate(([s, peer]) => window.pf.open(s, peer), [
      { ...settings('protofly-swap'), updates: { 'b.example': 'live' } },
      ERIN,
    ] as const)) as { carrier: { version: string }; status: string };
    expect(opened.status).toBe('live');
    const events = `${b.catalogueUrl}/.well-known/protofly/events`;
    await page.waitForFunction((url) => window.pf.streams.connected.includes(url), events);
    expect(await page.evaluate(() => window.pf.send('hello'))).toMatchObject({ code: 200 });
    const withAlice = await incoming;
    const atErin: string[] = [];
    withAlice.on('message', (m) => atErin.push(String((m.body as { text?: string }).text)));

    const N = 200;
    // Alice's stream waits for the swap after a100; Erin's goes on meanwhile; the release comes
    // once Erin has Alice's first messages, so the swap falls inside both streams.
    const aliceStream = page.evaluate(([n, half]) => window.pf.stream(n, half), [N, 100] as const);
    const erinStream = (async () => {
      const codes: number[] = [];
      for (let i = 0; i < N; i++) codes.push((await withAlice.send(`b${i}`)).body.code);
      return codes;
    })();
    await eventually(() => atErin.length > 20, 'Alice’s first messages reach Erin');
    await releaseStub(b, { pluginDir: join(root, 'plugins', 'stubs', 'json-ws'), version: '0.3.0' });
    const { sentAtSwap, failures } = await aliceStream;
    const changes = (await page.evaluate(() => window.pf.versions)).filter(
      (e) => e.change !== 'start' && e.peer === ERIN,
    );
    expect(changes).toEqual([{ change: 'swap', peer: ERIN, version: '0.3.0', error: undefined }]);
    expect(failures).toEqual([]);
    expect(await erinStream).toEqual(Array.from({ length: N }, () => 200));
    expect(await page.evaluate((n) => window.pf.texts(n), N)).toEqual(
      Array.from({ length: N }, (_, i) => `b${i}`),
    );
    await eventually(() => atErin.length >= N + 1, 'every message of Alice reaches Erin', 30_000);
    // Sent after all of them: anything doubled would come before it.
    expect(await page.evaluate(() => window.pf.send('a-end'))).toMatchObject({ code: 200 });
    await eventually(() => atErin.includes('a-end'), 'the last one');
    expect(atErin).toEqual(['hello', ...Array.from({ length: N }, (_, i) => `a${i}`), 'a-end']);

    expect(sentAtSwap).toBeGreaterThan(20);
    expect(sentAtSwap).toBeLessThanOrEqual(101);
    expect(await page.evaluate(() => window.pf.violations)).toEqual([]);
    await page.close();
  }, 120_000);
});

declare global {
  interface Window {
    pf: {
      violations: string[];
      streams: { opened: string[]; connected: string[]; published: string[] };
      versions: { change: string; peer?: string; version: string; error?: string }[];
      stream(n: number, half: number): Promise<{ sentAtSwap: number; failures: string[] }>;
      texts(n: number): Promise<string[]>;
      update(version: string): Promise<unknown>;
      open(settings: unknown, peer: string): Promise<unknown>;
      register(settings: unknown): Promise<unknown>;
      call(): Promise<unknown>;
      answered: Promise<string> | undefined;
      plant(database: string, key: string, value: string): Promise<void>;
      send(text: string): Promise<unknown>;
      next(): Promise<unknown>;
    };
  }
}
