import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startLocalDomains } from '../server/domain.js';
import { COLUMN, COLUMNS, type DemoReport, emptyReport, failureOf, phaseTimer } from './demo-report.js';
import { DAVE, type SipPeer, startSipPeer } from './demo-sip.js';
import { type DemoPages, driveDemo, launchChromium } from './web/drive.js';
import type { PageSettings } from './web/page.js';
import { readPageFiles, startPageServer } from './web/page-server.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';

/** The web demo's domains and pages, serving. */
export interface WebDemo {
  readonly pages: DemoPages;
  /** `--sip`: c.example, Kamailio and Dave. */
  readonly sip?: SipPeer;
  close(): Promise<void>;
}

/** `--sip`: the ladder's column for c.example (what Alice's page sees of it), after {@link COLUMNS}. */
const SIP_COLUMNS = ['c.example (catalogue, Kamailio; dave on JsSIP)'];

/**
 * `protofly demo --web`: the domains `protofly demo` starts (a.example and b.example on
 * loopback, in a temporary folder), and a page per user on an origin of its own: Alice's
 * (a.example's) and Bob's (b.example's). b.example's node admits WebSockets of both pages'
 * origins (its config's `browsers.messaging`), none other. With `sip`, c.example too, as
 * `protofly demo --sip` runs it (Kamailio, Dave with JsSIP), and Alice's page also opens a
 * conversation with Dave through c.example's sip-ws stub.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` with `sip` when Kamailio is not installed.
 */
export async function startWebDemo(options: { sip?: boolean } = {}): Promise<WebDemo> {
  const files = await readPageFiles();
  const servers = await Promise.all([startPageServer(files), startPageServer(files)]);
  const [alice, bob] = servers as [(typeof servers)[0], (typeof servers)[0]];
  const dir = await mkdtemp(join(tmpdir(), 'protofly-demo-web-'));
  let sip: SipPeer | undefined;
  const close = async () => {
    await Promise.allSettled(servers.map((s) => s.close()));
    await sip?.close();
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
    const catalogues: Record<string, string> = { ...domains.peers };
    const connect = [...domains.byName.values()].flatMap((d) => [
      new URL(d.catalogueUrl).origin,
      new URL(d.nodeUrl).origin,
    ]);
    if (options.sip) {
      sip = await startSipPeer(dir, catalogues, pino({ level: 'silent' }));
      catalogues['c.example'] = sip.catalogueUrl;
      connect.push(new URL(sip.catalogueUrl).origin, ...sip.origins);
    }
    const audiences = new Set([...domains.byName.keys(), ...(sip ? ['c.example'] : [])]);
    const page = (address: string, me: number, peer?: string) => {
      const home = domains.byName.get(address.split('/')[2]!)!;
      const settings: PageSettings = {
        address,
        ...(peer ? { peer } : {}),
        domain: 'b.example',
        catalogues,
        columns: sip ? [...COLUMNS, ...SIP_COLUMNS] : COLUMNS,
        column: { me, catalogue: COLUMN.catalogue, node: COLUMN.node },
        ...(sip && peer ? { sip: { peer: DAVE, column: COLUMNS.length } } : {}),
      };
      // Tokens for the demo's domains only: the page server is the demo's stand-in for a log-in.
      const token = async (audience: string) => {
        if (!audiences.has(audience)) throw new Error(`${audience} is not a domain of the demo`);
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
  return { pages: { alice: `${alice.origin}/`, bob: `${bob.origin}/` }, ...(sip ? { sip } : {}), close };
}

/**
 * `protofly demo --web --headless`: the web demo driven in the Chromium at `chromium`, and
 * the report of the other demos, its ladder Alice's page's, plus the call's `webrtc`.
 *
 * @throws ProtoflyError `PF_ERR_BROWSER` before anything starts when Chromium cannot be driven.
 */
export async function runWebDemo(options: {
  chromium: string;
  screenshots?: string;
  sip?: boolean;
}): Promise<DemoReport> {
  const report = emptyReport(options.sip ? [...COLUMNS, ...SIP_COLUMNS] : COLUMNS);
  report.host = { kind: 'browser' };
  const phase = phaseTimer(report);
  const browser = await launchChromium(options.chromium);
  let demo: WebDemo | undefined;
  try {
    phase('chromium');
    demo = await startWebDemo({ sip: options.sip ?? false });
    phase(options.sip ? 'domains (c.example: Kamailio, dave registers) and pages' : 'domains and pages');
    const { alice, bob } = await driveDemo(browser, demo.pages, {
      phase,
      ...(options.screenshots ? { screenshots: options.screenshots } : {}),
      ...(demo.sip ? { sip: demo.sip.dave } : {}),
    });
    report.stubs.push(...alice.stubs, ...bob.stubs);
    report.ladder.rows.push(...alice.rows);
    report.messages = {
      sent: alice.messages.sent + bob.messages.sent,
      delivered: alice.messages.received + bob.messages.received,
    };
    if (alice.sip) report.sip = alice.sip;
    if (alice.webrtc) report.webrtc = { connected: alice.webrtc.connected, rttMs: alice.webrtc.rttMs };
    report.ok =
      report.messages.sent === report.messages.delivered &&
      report.webrtc?.connected === true &&
      (!options.sip || (alice.sip?.call.answered === true && alice.sip.call.ended));
  } catch (err) {
    report.error = failureOf(err);
  } finally {
    await browser.close();
    await demo?.close();
  }
  return report;
}
