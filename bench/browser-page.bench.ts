import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transform } from 'esbuild';
import type { WebSocket } from 'ws';
import { response } from '../core/message.js';
import { launchChromium, PAGE_CSP, servePages, WORKER_CSP } from '../test/browser/launch.js';
import { startDomains } from '../test/support/domains.js';
import { bundleSizes } from './browser-bundle.js';
import { type BenchOptions, percentile, type Result, result } from './harness.js';
import { startPlainHub } from './plain-hub.js';
import { bareClient } from './round-trips.js';

/**
 * protofly/browser in Debian's Chromium (headless, loopback), measured in the page, in one run
 * with the bundle's size (bench/browser-bundle.ts):
 *
 * - a cold stub load: a new runtime fetches b.example's descriptor from its catalogue,
 *   verifies it (WebCrypto: Ed25519 over JCS, sha384), starts the stub in a Web Worker under
 *   SES and waits for it live (its token fetched, connected and authenticated to b.example's
 *   node), with each phase: on a page's first visit (nothing stored: the domain's keys and the
 *   package fetched), on a later visit (the key, the version seen and the verified package in
 *   IndexedDB), both on a new host whose warm spare worker is up (started and locked down
 *   before the load, as a page's runtime has it), and on a worker already running for the
 *   domain. Issue #18's target: ≤ 15 ms p50.
 * - a chat round trip page → stub (Web Worker) → b.example's node → Bob → node → stub → page,
 *   against its baseline in the same run: the same page with a plain `WebSocket` to the plain
 *   hub (bench/plain-hub.ts). Bob is a bare client answering 200 in both.
 */

/** bench/browser-page.ts's figures of cold loads: each one's timeline (ms from its start to each step), and the spare's start. */
interface ColdLoads {
  loads: Record<string, number>[];
  spare: number[];
}

/**
 * The phases of a cold load reported, each from one step of bench/browser-page.ts's timeline
 * to another ('' is the load's start). Those of the loader run one after another; the token is
 * asked at the start and runs alongside them; the socket is asked by the stub as it activates.
 */
const PHASES: readonly (readonly [phase: string, from: string, to: string])[] = [
  ['the runtime made, until it asks for the descriptor', '', 'descriptor asked'],
  ['the descriptor fetched from the catalogue', 'descriptor asked', 'descriptor'],
  ['the descriptor checked (schema, the one asked for)', 'descriptor', 'domain'],
  ["the domain's keys fetched (first use)", 'keys fetched asked', 'keys fetched'],
  [
    "the domain's key (fetched on first use, else read from IndexedDB) and the signature verified (Ed25519 over JCS)",
    'domain',
    'signature',
  ],
  ['policy, engine, downgrade (the version seen read)', 'signature', 'downgrade'],
  ['the package fetched or read from IndexedDB', 'downgrade', 'package'],
  ['integrity (sha384 of the package)', 'package', 'integrity'],
  ['the token (asked at the start, alongside)', 'token asked', 'token'],
  ['from verified to the sandbox asked (waiting for the token)', 'integrity', 'sandbox asked'],
  ['the sandbox (into the worker, evaluated, activated)', 'sandbox asked', 'sandbox'],
  ["the stub's WebSocket, asked to open", 'socket asked', 'socket open'],
  ['from the socket open to live (authentication)', 'socket open', 'live'],
];

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** The page's `window.bench` (bench/browser-page.ts). */
interface PageBench {
  cold(settings: unknown, n: number, mode: 'first' | 'reload' | 'running'): Promise<ColdLoads>;
  open(settings: unknown): Promise<void>;
  chats(n: number): Promise<number[]>;
  connectPlain(url: string, address: string): Promise<void>;
  plainChats(from: string, to: string, n: number): Promise<number[]>;
  close(): Promise<void>;
}
declare global {
  interface Window {
    bench: PageBench;
  }
}

export default async function browserPageBench({ quick, root }: BenchOptions): Promise<Result[]> {
  const profile = await mkdtemp(join(tmpdir(), 'pf-bench-chromium-'));
  const script = (
    await transform(await readFile(join(root, 'bench', 'browser-page.ts'), 'utf8'), {
      loader: 'ts',
      format: 'esm',
    })
  ).code;
  let issue: (address: string, audience: string) => Promise<string> = async () => '';
  const pages = await servePages(
    {
      '/': {
        body: '<!doctype html><meta charset="utf-8"><title>bench</title><body><script type="module" src="/bench-page.js"></script>',
        type: 'text/html; charset=utf-8',
        csp: PAGE_CSP,
      },
      '/bench-page.js': { body: script, type: 'text/javascript', csp: PAGE_CSP },
      '/browser.js': {
        body: await readFile(join(root, 'dist', 'browser.js')),
        type: 'text/javascript',
        csp: PAGE_CSP,
      },
      '/browser-worker.js': {
        body: await readFile(join(root, 'dist', 'browser-worker.js')),
        type: 'text/javascript',
        csp: WORKER_CSP,
      },
    },
    // Alice's tokens, as her home domain's token endpoint would issue them after a log-in.
    (url, res) => {
      if (url.pathname !== '/token') return res.writeHead(404).end();
      void issue(url.searchParams.get('address') ?? '', url.searchParams.get('audience') ?? '').then(
        (token) => res.writeHead(200, { 'content-type': 'text/plain' }).end(token),
      );
    },
  );
  const domains = await startDomains(['a.example', 'b.example'], undefined, {
    browsers: { token: [pages.origin], messaging: [pages.origin] },
  });
  const a = domains.byName.get('a.example')!;
  const b = domains.byName.get('b.example')!;
  issue = (address, audience) => a.identity.issue(address, 600, audience);
  const hub = await startPlainHub();
  const answer = (m: Parameters<typeof response>[0], ws: WebSocket) =>
    ws.send(JSON.stringify({ t: 'msg', m: response(m, 200) }));
  const bobs = [
    await bareClient(b.nodeUrl, { t: 'auth', token: await b.identity.issue(BOB) }, answer),
    await bareClient(hub.url, { t: 'hello', address: BOB }, answer),
  ];
  const context = await launchChromium(profile);
  try {
    const page = await context.newPage();
    await page.goto(`${pages.origin}/`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    const settings = { address: ALICE, peer: BOB, catalogues: domains.catalogues };
    const loads = quick ? 5 : 40;
    const rounds = quick ? 2 : 5;
    const n = quick ? 50 : 200;

    // One load first, so that neither figure pays for the page's first compilation of the package.
    await page.evaluate(([s]) => window.bench.cold(s, 1, 'first'), [settings] as const);
    const first = await page.evaluate(([s, k]) => window.bench.cold(s, k, 'first'), [
      settings,
      loads,
    ] as const);
    const reload = await page.evaluate(([s, k]) => window.bench.cold(s, k, 'reload'), [
      settings,
      loads,
    ] as const);
    const running = await page.evaluate(([s, k]) => window.bench.cold(s, k, 'running'), [
      settings,
      loads,
    ] as const);

    await page.evaluate(([s]) => window.bench.open(s), [settings] as const);
    await page.evaluate(([url, who]) => window.bench.connectPlain(url, who), [hub.url, ALICE] as const);
    // Alternating rounds, so that both paths see the same machine state; the first is a warm-up.
    await page.evaluate((k) => window.bench.chats(k), n);
    await page.evaluate(([from, to, k]) => window.bench.plainChats(from, to, k), [ALICE, BOB, n] as const);
    const ours: number[] = [];
    const base: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ours.push(...(await page.evaluate((k) => window.bench.chats(k), n)));
      base.push(
        ...(await page.evaluate(([from, to, k]) => window.bench.plainChats(from, to, k), [
          ALICE,
          BOB,
          n,
        ] as const)),
      );
    }
    await page.evaluate(() => window.bench.close());
    const chat =
      'page → json-ws stub (Web Worker) → node → Bob → page, against a page on a plain WebSocket to the plain hub';
    const loadRows = (mode: string, c: ColdLoads): Result[] => [
      result(
        `browser page: cold stub load to live, ${mode}`,
        'ms',
        c.loads.map((l) => l.live!),
      ),
      ...PHASES.flatMap(([phase, from, to]) => {
        const samples = c.loads.flatMap((l) => {
          const start = from === '' ? 0 : l[from];
          const end = l[to];
          return start === undefined || end === undefined ? [] : [end - start];
        });
        return samples.length === 0
          ? []
          : [result(`browser page: ${mode}, of which ${phase}`, 'ms', samples)];
      }),
    ];
    return [
      ...(await bundleSizes(root)),
      ...loadRows('first visit (nothing stored; warm spare worker)', first),
      ...loadRows('later visit (key, version seen and package in IndexedDB; warm spare worker)', reload),
      result(
        'browser page: cold stub load to live, worker for the domain running (nothing stored)',
        'ms',
        running.loads.map((l) => l.live!),
      ),
      result('browser page: the warm spare worker started and SES locked down (before a load)', 'ms', [
        ...first.spare,
        ...reload.spare,
      ]),
      result(`${chat}: round trip latency (p50)`, 'µs', ours, base),
      {
        name: `${chat}: round trip latency (p99)`,
        unit: 'µs',
        median: percentile(ours, 99),
        p99: percentile(ours, 99),
        baseline: percentile(base, 99),
        ratio: percentile(ours, 99) / percentile(base, 99),
      },
    ];
  } finally {
    await context.close();
    for (const ws of bobs) ws.close();
    await hub.close();
    await domains.close();
    await pages.close();
    await rm(profile, { recursive: true, force: true });
  }
}
