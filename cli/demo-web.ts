import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startLocalDomains } from '../server/domain.js';
import { COLUMN, COLUMNS, type DemoReport, emptyReport, failureOf, phaseTimer } from './demo-report.js';
import { type DemoPages, driveDemo, launchChromium } from './web/drive.js';
import type { PageSettings } from './web/page.js';
import { readPageFiles, startPageServer } from './web/page-server.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** The web demo's domains and pages, serving. */
export interface WebDemo {
  readonly pages: DemoPages;
  close(): Promise<void>;
}

/**
 * `protofly demo --web`: the domains `protofly demo` starts (a.example and b.example on
 * loopback, in a temporary folder), and a page per user on an origin of its own: Alice's
 * (a.example's) and Bob's (b.example's). b.example's node admits WebSockets of both pages'
 * origins (its config's `browsers.messaging`), none other.
 */
export async function startWebDemo(): Promise<WebDemo> {
  const files = await readPageFiles();
  const servers = await Promise.all([startPageServer(files), startPageServer(files)]);
  const [alice, bob] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const dir = await mkdtemp(join(tmpdir(), 'protofly-demo-web-'));
  const close = async () => {
    await Promise.allSettled(servers.map((s) => s.close()));
    await local?.close();
    await rm(dir, { recursive: true, force: true });
  };
  let local: Awaited<ReturnType<typeof startLocalDomains>> | undefined;
  try {
    local = await startLocalDomains(['a.example', 'b.example'], dir, {
      users: new Map(),
      log: pino({ level: 'silent' }),
      browsers: { messaging: [alice.origin, bob.origin] },
    });
    const domains = local;
    const connect = [...domains.byName.values()].flatMap((d) => [
      new URL(d.catalogueUrl).origin,
      new URL(d.nodeUrl).origin,
    ]);
    const page = (address: string, me: number, peer?: string) => {
      const home = domains.byName.get(address.split('/')[2]!)!;
      const settings: PageSettings = {
        address,
        ...(peer ? { peer } : {}),
        domain: 'b.example',
        catalogues: domains.peers,
        columns: COLUMNS,
        column: { me, catalogue: COLUMN.catalogue, node: COLUMN.node },
      };
      // Tokens for the demo's domains only: the page server is the demo's stand-in for a log-in.
      const token = async (audience: string) => {
        if (!domains.byName.has(audience)) throw new Error(`${audience} is not a domain of the demo`);
        return home.identity.issue(address, 600, audience);
      };
      return { settings, connect, token };
    };
    alice.serve(page(ALICE, COLUMN.alice, BOB));
    bob.serve(page(BOB, COLUMN.bob));
  } catch (err) {
    await close();
    throw err;
  }
  return { pages: { alice: `${alice.origin}/`, bob: `${bob.origin}/` }, close };
}

/**
 * `protofly demo --web --headless`: the web demo driven in the Chromium at `chromium`, and
 * the report of the other demos, its ladder Alice's page's, plus the call's `webrtc`.
 *
 * @throws ProtoflyError `PF_ERR_BROWSER` before anything starts when Chromium cannot be driven.
 */
export async function runWebDemo(options: { chromium: string; screenshots?: string }): Promise<DemoReport> {
  const report = emptyReport(COLUMNS);
  report.host = { kind: 'browser' };
  const phase = phaseTimer(report);
  const browser = await launchChromium(options.chromium);
  let demo: WebDemo | undefined;
  try {
    phase('chromium');
    demo = await startWebDemo();
    phase('domains and pages');
    const { alice, bob } = await driveDemo(browser, demo.pages, {
      phase,
      ...(options.screenshots ? { screenshots: options.screenshots } : {}),
    });
    report.stubs.push(...alice.stubs, ...bob.stubs);
    report.ladder.rows.push(...alice.rows);
    report.messages = {
      sent: alice.messages.sent + bob.messages.sent,
      delivered: alice.messages.received + bob.messages.received,
    };
    if (alice.webrtc) report.webrtc = { connected: alice.webrtc.connected, rttMs: alice.webrtc.rttMs };
    report.ok = report.messages.sent === report.messages.delivered && report.webrtc?.connected === true;
  } catch (err) {
    report.error = failureOf(err);
  } finally {
    await browser.close();
    await demo?.close();
  }
  return report;
}
