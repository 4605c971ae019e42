/**
 * The attack suite in a page: the stubs of test/attacks/ (the same packages the Node suite
 * loads, published, signed and verified the same way), each run by the browser host
 * (`BrowserWorkerHost`: a Web Worker per carrier domain under SES) inside Debian's Chromium,
 * next to the well-behaved probe stub, which must go on answering with nothing lost. Each
 * asserts the coded outcome the Node suite asserts, or where a browser differs, what the
 * browser host does instead (sandbox/README.md, "In a browser"). The memory attacks are
 * declared for Node only and refused here: a browser sets no limit on a worker's heap or array
 * buffers (see the README).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { StubPackage } from '../../core/plugin.js';
import { FRAME_COST } from '../../sandbox/channel.js';
import { DEFAULT_LIMITS } from '../../sandbox/defaults.js';
import type { ConverseOptions } from '../support/conversation.js';
import { verifiedPackageOf } from '../support/packages.js';
import { launchChromium, type PageServer, serveHostPage } from './launch.js';

const root = join(import.meta.dirname, '..', '..');
const attack = (name: string) => verifiedPackageOf(join(root, 'test', 'attacks', name));
type Package = StubPackage;

/** What the well-behaved stub sees of the intrinsics of its worker. */
const PRISTINE = { polluted: false, push: 'push', parse: 'number', stringify: '{"a":1}' };

interface Coded {
  code: string;
  message: string;
  detail: Record<string, unknown>;
}
interface View {
  status: string;
  statuses: { status: string; detail?: string; error?: Coded }[];
  refusals: Coded[];
  updates: unknown[];
  logs: { msg: string; dropped?: number }[];
}
type Body = { code: number; value?: unknown; description?: string };

/** The page's `window.attacks` (test/browser/attack-page.ts). */
interface Attacks {
  begin(probe: Package, watchdogMs: number): Promise<void>;
  open(pkg: Package, options?: ConverseOptions): Promise<{ index: number } | { rejected: Coded }>;
  execute(i: number, method: string, params?: Record<string, unknown>): Promise<Body>;
  echo(i: number, text: string): Promise<Body>;
  view(i: number): View;
  failure(i: number, ms?: number): Promise<Coded>;
  logged(pattern: string): Promise<void>;
  stop(i: number): Promise<void>;
  snapshot(i: number): Promise<{ snapshot: true } | { rejected: Coded }>;
  postAfterStop(i: number): string;
  end(): Promise<{
    failures: string[];
    status: string;
    refusals: Coded[];
    pristine: unknown;
    pagePolluted: unknown;
  }>;
}
declare global {
  interface Window {
    attacks: Attacks;
  }
}

/** One conversation of a scenario, seen from the test. */
interface Remote {
  /** Its index in the page's scenario. */
  readonly index: number;
  execute(method: string, params?: Record<string, unknown>): Promise<Body>;
  echo(text: string): Promise<Body>;
  view(): Promise<View>;
  failure(ms?: number): Promise<Coded>;
  stop(): Promise<void>;
  snapshot(): Promise<{ snapshot: true } | { rejected: Coded }>;
}

/** What a scenario's body has at hand. */
interface Scenario {
  readonly page: Page;
  /** Starts a conversation with an attack package; throws the coded refusal of its instantiation. */
  open(pkg: Package, options?: ConverseOptions): Promise<Remote>;
  /** The coded refusal of a conversation that must not start. */
  refused(pkg: Package, options?: ConverseOptions): Promise<Coded>;
}

let context: BrowserContext;
let profile: string;
let pages: PageServer;
let wss: WebSocketServer;
let wsPort: number;
const wsPaths: string[] = [];
let http: Server;
let httpPort: number;
let httpRequests = 0;
let probe: Package;
const secret = `secret-${randomBytes(8).toString('hex')}`;
let secretPath: string;
let markerPath: string;

beforeAll(async () => {
  pages = await serveHostPage(join(import.meta.dirname, 'attack-page.ts'), 'attacks');

  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (socket, req) => {
    wsPaths.push(req.url ?? '');
    socket.on('message', (data) => socket.send(String(data)));
  });
  await new Promise((resolve) => wss.once('listening', resolve));
  wsPort = (wss.address() as AddressInfo).port;
  http = createServer((_req, res) => {
    httpRequests += 1;
    res.end('ok');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  httpPort = (http.address() as AddressInfo).port;

  probe = await verifiedPackageOf(join(root, 'test', 'stubs', 'probe'));
  profile = await mkdtemp(join(tmpdir(), 'pf-attacks-chromium-'));
  secretPath = join(profile, 'secret.txt');
  markerPath = join(profile, 'spawned');
  await writeFile(secretPath, secret);
  context = await launchChromium(profile);
}, 120_000);

afterAll(async () => {
  await context?.close();
  await pages?.close();
  if (http) await new Promise((resolve) => http.close(resolve));
  if (wss) await new Promise((resolve) => wss.close(resolve));
  if (profile) await rm(profile, { recursive: true, force: true });
});

/**
 * Runs an attack in a fresh page next to the probe, then checks the probe lost nothing, is
 * still live with no refusal, and that neither its worker's nor the page's intrinsics changed.
 * The probe is of another domain than the attack, so it has a worker of its own (the browser
 * host shares a worker only between one domain's packages).
 */
async function scenario(body: (s: Scenario) => Promise<void>, watchdogMs = 1000): Promise<void> {
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  try {
    await page.goto(`${pages.origin}/`);
    await page.waitForSelector('body[data-ready="yes"]', { state: 'attached' });
    await page.evaluate(([p, ms]) => window.attacks.begin(p, ms), [probe, watchdogMs] as const);
    const remote = (index: number): Remote => ({
      index,
      execute: (method, params) =>
        page.evaluate(([i, m, p]) => window.attacks.execute(i, m, p), [index, method, params] as const),
      echo: (text) => page.evaluate(([i, t]) => window.attacks.echo(i, t), [index, text] as const),
      view: () => page.evaluate((i) => window.attacks.view(i), index),
      failure: (ms) => page.evaluate(([i, m]) => window.attacks.failure(i, m), [index, ms] as const),
      stop: () => page.evaluate((i) => window.attacks.stop(i), index),
      snapshot: () => page.evaluate((i) => window.attacks.snapshot(i), index),
    });
    const start = (pkg: Package, options?: ConverseOptions) =>
      page.evaluate(([p, o]) => window.attacks.open(p, o), [pkg, options] as const);
    await body({
      page,
      async open(pkg, options) {
        const opened = await start(pkg, options);
        if ('rejected' in opened) throw new Error(`${opened.rejected.code}: ${opened.rejected.message}`);
        return remote(opened.index);
      },
      async refused(pkg, options) {
        const opened = await start(pkg, options);
        if ('index' in opened) throw new Error(`${pkg.descriptor.name} started`);
        return opened.rejected;
      },
    });
    const after = await page.evaluate(() => window.attacks.end());
    expect(after).toEqual({
      failures: [],
      status: 'live',
      refusals: [],
      pristine: PRISTINE,
      pagePolluted: undefined,
    });
  } finally {
    await page.close();
  }
}

/** Asks an attack for its outcomes and checks that each of `count` attempts was refused or found nothing. */
async function expectContained(c: Remote, count: number): Promise<Record<string, string>> {
  const res = await c.execute('report');
  expect(res.code).toBe(200);
  const outcomes = res.value as Record<string, string>;
  expect(Object.keys(outcomes)).toHaveLength(count);
  for (const [name, outcome] of Object.entries(outcomes))
    expect(outcome, name).toMatch(/^(blocked: |no power$)/);
  return outcomes;
}

/** Resolves when the test's WebSocket server takes a connection on `path` (its `connection` event). */
function connectionOn(path: string): Promise<void> {
  return new Promise((resolve) => {
    const seen = (_socket: unknown, req: { url?: string }) => {
      if (req.url !== path) return;
      wss.off('connection', seen);
      resolve();
    };
    wss.on('connection', seen);
  });
}

describe('attack suite in Chromium (BrowserWorkerHost)', () => {
  it('attack-fs: cannot read a file', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-fs'), { config: { secretPath } });
      const outcomes = await expectContained(c, 8);
      expect(JSON.stringify([outcomes, await c.view()])).not.toContain(secret);
    }));

  it('attack-import: a dynamic import is refused with the whole package, before it reaches a worker', () =>
    scenario(async (s) => {
      // Node's host transforms the package and SES refuses it at evaluation; the browser's has
      // no transform and runs only bundles whose text never says `import` (sandbox/script.ts).
      expect(await s.refused(await attack('attack-import'))).toMatchObject({
        code: 'PF_ERR_SANDBOX',
        message: expect.stringMatching(/attack-import.* is not a protofly publish bundle/),
      });
    }));

  it('attack-process: reaches neither process.env, process.exit nor bindings', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-process'));
      await expectContained(c, 9);
      expect((await c.echo('still here')).code).toBe(200);
    }));

  it('attack-crypto: crypto.subtle gives bounded PBKDF2, HMAC and digests on its own keys, nothing more', () =>
    scenario(async (s) => {
      const outcomes = await expectContained(await s.open(await attack('attack-crypto')), 9);
      expect(outcomes['PBKDF2 beyond the iteration bound']).toMatch(/iterations must be 1\.\.1000000/);
      expect(outcomes['two operations at once in the shared thread pool']).toMatch(/one operation at a time/);
      expect(outcomes["PBKDF2 past the minute's iterations"]).toMatch(
        /over 1000000 PBKDF2 iterations a minute/,
      );
    }));

  it('attack-spawn: cannot start a process', () =>
    scenario(async (s) => {
      await expectContained(await s.open(await attack('attack-spawn'), { config: { markerPath } }), 5);
      expect(existsSync(markerPath)).toBe(false);
    }));

  it('attack-socket: connects only inside its allow-list, through the page’s WebSocket', () =>
    scenario(async (s) => {
      wsPaths.length = 0;
      const allowed = connectionOn('/allowed');
      const c = await s.open(await attack('attack-socket'), { config: { port: wsPort } });
      const outcomes = await expectContained(c, 10);
      expect(outcomes['forbidden path']).toMatch(/^blocked: PF_ERR_ENDPOINT/);
      expect(outcomes['global WebSocket']).toMatch(/^blocked: /);
      await allowed;
      expect(wsPaths).toEqual(['/allowed']);
    }));

  it('attack-fetch: makes no HTTP request', () =>
    scenario(async (s) => {
      await expectContained(await s.open(await attack('attack-fetch'), { config: { port: httpPort } }), 6);
      expect(httpRequests).toBe(0);
    }));

  it('attack-constructor: no Function constructor escapes the compartment', () =>
    scenario(async (s) => {
      await expectContained(await s.open(await attack('attack-constructor')), 11);
    }));

  it('attack-pollution: shared intrinsics, endowments and prototypes stay untouched', () =>
    scenario(async (s) => {
      const pkg = await attack('attack-pollution');
      const outcomes = await expectContained(await s.open(pkg), 14);
      expect(outcomes['Object.prototype']).toMatch(/^blocked: /);
      // A neighbour on the attacker's own worker (the same domain's package) still works.
      expect((await (await s.open(pkg)).echo('same worker')).code).toBe(200);
    }));

  it('attack-eval: eval, Function, string timers and nested compartments reach nothing', () =>
    scenario(async (s) => {
      const outcomes = await expectContained(await s.open(await attack('attack-eval')), 8);
      expect(outcomes['string timer']).toMatch(/^blocked: PF_ERR_SANDBOX: ctx.setTimeout takes a function/);
    }));

  it('attack-tamper: the objects it was handed cannot be changed, and still work', () =>
    scenario(async (s) => {
      wsPaths.length = 0;
      const opened = connectionOn('/allowed');
      const c = await s.open(await attack('attack-tamper'), { config: { port: wsPort } });
      await expectContained(c, 13);
      expect((await c.echo('ctx still works')).code).toBe(200);
      await opened;
    }));

  it('attack-loop: a busy loop is ended by the heartbeat watchdog, and the stub runs again when asked', () =>
    scenario(async (s) => {
      const pkg = await attack('attack-loop');
      const c = await s.open(pkg);
      void c.execute('spin').catch(() => {});
      const error = await c.failure();
      expect(error.code).toBe('PF_ERR_WATCHDOG');
      // Every host words it the same (sandbox/ended.ts).
      expect(error.message).toMatch(
        /attack-loop\.test\/attack-loop.*held its thread for \d+ ms without yielding \(limit \d+ ms\)/,
      );
      expect((await (await s.open(pkg)).echo('back')).code).toBe(200);
    }));

  it('attack-loop-evaluate: a busy loop while evaluating fails the instantiation', () =>
    scenario(async (s) => {
      expect(await s.refused(await attack('attack-loop-evaluate'))).toMatchObject({
        code: 'PF_ERR_WATCHDOG',
      });
    }));

  it('attack-memory, attack-buffer, attack-buffer-burst: declared for Node only (a browser bounds no worker’s memory), refused by the page’s host before they run', () =>
    scenario(async (s) => {
      for (const name of ['attack-memory', 'attack-buffer', 'attack-buffer-burst']) {
        expect(await s.refused(await attack(name)), name).toMatchObject({
          code: 'PF_ERR_SANDBOX',
          message: expect.stringMatching(new RegExp(`${name}@1\\.0\\.0 runs on node, not on browser`)),
        });
      }
    }));

  it('attack-flood: a message flood is bounded at the source and refused with PF_ERR_FLOOD', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-flood'));
      expect((await c.execute('flood')).value).toBe('flooding');
      // The report is asked once the flood is over: asked during it, it waited on the whole flood
      // within the bus's timeout, which a loaded machine went past.
      await s.page.waitForFunction(
        (i) => window.attacks.view(i).logs.some((l) => l.msg === 'flood over'),
        c.index,
      );
      const report = await c.execute('report');
      expect(report).toMatchObject({ code: 200 });
      const counts = report.value as { accepted: number; refused: number; other: number };
      expect(counts.accepted + counts.refused).toBe(100_000);
      expect(counts.other).toBe(0);
      expect(counts.accepted).toBeLessThanOrEqual(DEFAULT_LIMITS.windowBytes / FRAME_COST);
      // What was taken is delivered, all of it, and the flood is told once.
      await s.page.waitForFunction(([i, n]) => window.attacks.view(i).updates.length === n, [
        c.index,
        counts.accepted,
      ] as const);
      await s.page.waitForFunction((i) => window.attacks.view(i).refusals.length > 0, c.index);
      expect((await c.view()).refusals.map((e) => e.code)).toEqual(['PF_ERR_FLOOD']);
      // The watchdog waits longer: the flood's one turn took over a second on a loaded machine,
      // and its time is not what this attack is about.
    }, 30_000));

  it('attack-log-flood: log lines are rate-limited, and the drop is counted', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-log-flood'));
      expect((await c.execute('flood')).value).toBe('flood');
      const spam = (await c.view()).logs.length;
      expect(spam).toBeGreaterThan(0);
      expect(spam).toBeLessThan(DEFAULT_LIMITS.logBurst + DEFAULT_LIMITS.logPerSecond * 10);
      expect((await c.execute('once')).value).toBe('once');
      await s.page.waitForFunction(([i, n]) => window.attacks.view(i).logs.length === n + 1, [
        c.index,
        spam,
      ] as const);
      const lines = (await c.view()).logs;
      expect(lines[spam]!.msg).toBe('after the flood');
      const dropped = lines.reduce((sum, l) => sum + Number(l.dropped ?? 0), 0);
      expect(spam + dropped).toBe(100_000);
    }));

  it('attack-spoof: sends nothing from an address it was not given, nothing malformed or oversized', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-spoof'));
      const outcomes = (await c.execute('spoof')).value as Record<string, string>;
      expect(outcomes.oversized).toMatch(/^blocked: PF_ERR_TOO_LARGE/);
      expect(outcomes['rewritten identity']).toMatch(/^blocked: /);
      await s.page.waitForFunction((i) => window.attacks.view(i).updates.length > 0, c.index);
      const view = await c.view();
      expect(view.updates).toEqual(['honest']);
      expect(view.refusals.map((e) => e.code)).toEqual([
        'PF_ERR_SPOOF',
        'PF_ERR_SPOOF',
        'PF_ERR_SPOOF',
        'PF_ERR_SCHEMA',
      ]);
      expect(view.refusals[0]!.message).toContain('an address it was not given');
    }));

  it('attack-throw: a throw in any entry point fails that conversation only', () =>
    scenario(async (s) => {
      const pkg = await attack('attack-throw');
      const bystander = await s.open(pkg);
      for (const where of ['activate', 'activate-async', 'activate-shape']) {
        expect(await s.refused(pkg, { config: { where } }), where).toMatchObject({
          code: 'PF_ERR_SANDBOX',
          detail: { where: 'activate' },
        });
      }
      const entries = {
        throw: 'postMessage',
        reject: 'postMessage',
        proxy: 'postMessage',
        timer: 'timer',
        socket: 'socket',
      };
      for (const [method, where] of Object.entries(entries)) {
        const c = await s.open(pkg, { config: { url: `ws://127.0.0.1:${wsPort}/allowed` } });
        void c.execute(method).catch(() => {});
        const error = await c.failure();
        expect([method, error.code, error.detail.where]).toEqual([method, 'PF_ERR_SANDBOX', where]);
      }
      const stray = await s.open(pkg);
      expect((await stray.execute('stray')).code).toBe(200);
      await s.page.evaluate(() => window.attacks.logged('promise rejection\\(s\\) unhandled'));
      expect((await stray.view()).status).toBe('live');

      const stopper = await s.open(pkg, { config: { where: 'stop' } });
      await stopper.stop();
      const stopped = await stopper.view();
      expect(stopped.statuses.map((x) => x.status)).toEqual(['live', 'failed', 'stopped']);
      expect(stopped.statuses[1]!.error?.message).toMatch(/failed in stop\(\): Error: boom in stop/);
      const snapper = await s.open(pkg, { config: { where: 'snapshot' } });
      expect(await snapper.snapshot()).toMatchObject({
        rejected: { code: 'PF_ERR_SANDBOX', detail: { where: 'snapshot' } },
      });
      expect((await bystander.echo('unharmed')).code).toBe(200);
      expect((await bystander.view()).status).toBe('live');
    }));

  it('attack-zombie: once a stub says it failed, nothing more it sends reaches the app, and it is stopped', () =>
    scenario(async (s) => {
      const c = await s.open(await attack('attack-zombie'));
      expect((await c.execute('zombie')).value).toBe('zombie');
      await s.page.waitForFunction((i) => window.attacks.view(i).status === 'stopped', c.index);
      const view = await c.view();
      expect(view.statuses.map(({ status, detail }) => ({ status, detail }))).toEqual([
        { status: 'live', detail: undefined },
        { status: 'failed', detail: 'by its own word' },
        { status: 'stopped', detail: undefined },
      ]);
      expect(view.updates).toEqual(['before']);
      expect(view.logs.map((l) => l.msg)).toEqual(['before']);
      expect(view.refusals).toEqual([]);
      expect(await s.page.evaluate((i) => window.attacks.postAfterStop(i), c.index)).toMatch(
        /PF_ERR_CLOSED|stopped/,
      );
    }));

  it('attack-throw-module: a throw while evaluating fails the instantiation', () =>
    scenario(async (s) => {
      expect(await s.refused(await attack('attack-throw-module'))).toMatchObject({
        code: 'PF_ERR_SANDBOX',
        message: expect.stringMatching(/could not be evaluated: Error: boom at load/),
      });
    }));
});
