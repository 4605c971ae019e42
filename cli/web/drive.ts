import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { isErrorCode, ProtoflyError } from '../../core/errors.js';
import type { JsSipUser } from '../../server/sip-client/jssip-user.js';
import { ALICE_AT_C, DAVE } from '../demo-sip.js';
import type { PageReport } from './page.js';

/** Where Debian's package puts Chromium; nothing is downloaded. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/**
 * Chromium as the web demo drives it: headless, with fake camera and microphone that need no
 * permission prompt, host candidates as addresses (not mDNS names nothing here resolves).
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/**
 * Starts the Chromium at `path` through playwright-core.
 *
 * @throws ProtoflyError `PF_ERR_BROWSER` when there is no Chromium at `path`, no
 *   playwright-core, or Chromium does not start; the message says what to install.
 */
export async function launchChromium(path: string): Promise<Browser> {
  if (!existsSync(path)) {
    throw new ProtoflyError(
      'PF_ERR_BROWSER',
      `no Chromium at ${path}: install Debian's (apt-get install chromium) or pass --chromium <path>`,
      { path },
    );
  }
  let playwright: typeof import('playwright-core');
  try {
    playwright = await import('playwright-core');
  } catch {
    throw new ProtoflyError(
      'PF_ERR_BROWSER',
      'playwright-core is not installed, which drives Chromium: npm i playwright-core (it downloads no browser)',
      { path },
    );
  }
  try {
    return await playwright.chromium.launch({ executablePath: path, args: [...CHROMIUM_ARGS] });
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    throw new ProtoflyError('PF_ERR_BROWSER', `Chromium at ${path} did not start: ${first}`, { path });
  }
}

/** The two pages' URLs. */
export interface DemoPages {
  readonly alice: string;
  readonly bob: string;
}

export interface DriveOptions {
  /** Saves alice.png and bob.png there once the call is up. */
  readonly screenshots?: string;
  /** Called as each step ends, with its name (the report's timings). */
  readonly phase?: (name: string) => void;
  /** `--sip`: Dave at c.example, whom Alice's page also chats with and calls (her page opened the conversation). */
  readonly sip?: JsSipUser;
}

/** How long one step may take before the demo gives up on it. */
const STEP_MS = 120_000;

const CHAT_TO_BOB = 'Hello Bob: my page loaded your domain’s stub on the fly';
const CHAT_TO_ALICE = 'Hello Alice, from my page';
const CHAT_TO_DAVE = 'Hello Dave: my page loaded c.example’s SIP stub on the fly';
const CHAT_FROM_DAVE = 'Hello Alice, from Kamailio';

/**
 * Runs the web demo in `browser` as a person would in two tabs: Bob's page registers, Alice's
 * page loads b.example's stub, they chat both ways through the forms, Alice calls and hangs up
 * once the data channel's round trip is measured, then Bob calls her back and hangs up. What
 * each page did, from its report (its `webrtc`: the call it placed).
 *
 * @throws ProtoflyError a page's own failure (its code and message), or `PF_ERR_DEMO` naming
 *   the step a page did not reach.
 */
export async function driveDemo(
  browser: Browser,
  pages: DemoPages,
  options: DriveOptions = {},
): Promise<{ alice: PageReport; bob: PageReport }> {
  const phase = options.phase ?? (() => {});
  const context = await browser.newContext({ viewport: { width: 1000, height: 900 } });
  // A bound for a page that hangs, not an expectation: steps took seconds at a load of 18 on two cores.
  context.setDefaultTimeout(STEP_MS);
  try {
    const bob = await open(context.newPage(), pages.bob);
    await reach(bob, 'body[data-state="registered"]', 'Bob’s page registers');
    phase('bob’s page registers');
    const alice = await open(context.newPage(), pages.alice);
    await reach(alice, 'body[data-state="live"]', 'Alice’s page loads b.example’s stub');
    phase('alice’s page loads, verifies and starts b.example’s stub');

    await say(alice, CHAT_TO_BOB);
    await reach(bob, '#log li[data-from="user://a.example/alice"]', 'Alice’s chat reaches Bob’s page');
    await say(bob, CHAT_TO_ALICE);
    await reach(alice, '#log li[data-from="user://b.example/bob"]', 'Bob’s chat reaches Alice’s page');
    phase('chat both ways');

    await alice.click('#dial');
    await reach(alice, 'body[data-rtt]', 'Alice’s call connects and measures its round trip');
    await reach(bob, 'body[data-call="connected"]', 'Bob’s page answers the call');
    phase('call connects (WebRTC), data channel round trip');
    if (options.screenshots) {
      await mkdir(options.screenshots, { recursive: true });
      for (const [name, page] of [
        ['alice', alice],
        ['bob', bob],
      ] as const) {
        await page.screenshot({ path: join(options.screenshots, `${name}.png`), fullPage: true });
      }
      phase('screenshots');
    }
    await alice.click('#hangup');
    await reach(bob, 'body[data-call="ended"]', 'Alice’s bye reaches Bob’s page');
    phase('bye');

    // And the other way: Bob calls Alice back on the conversation she opened.
    await bob.click('#dial');
    await reach(bob, 'body[data-rtt]', 'Bob’s call connects and measures its round trip');
    await reach(alice, 'body[data-call="connected"]', 'Alice’s page answers Bob’s call');
    await bob.click('#hangup');
    await reach(alice, 'body[data-call="ended"]', 'Bob’s bye reaches Alice’s page');
    phase('bob calls alice back, bye');
    if (options.sip) {
      await driveSip(alice, options.sip);
      phase('alice and dave (SIP): chat both ways, call answered, bye');
    }
    return { alice: await report(alice), bob: await report(bob) };
  } finally {
    await context.close();
  }
}

/** The page's actions with the SIP user (cli/web/page.ts). */
interface SipActions {
  chat(text: string): Promise<void>;
  call(): Promise<string>;
  bye(callId: string): Promise<void>;
}
type SipWindow = { protoflyDemo: { sip: SipActions } };

/**
 * Alice's page and Dave (JsSIP, Node) through c.example's sip-ws stub in her page: a chat each
 * way, then her call, which Dave answers, and her bye, which ends it at his end.
 */
async function driveSip(alice: Page, dave: JsSipUser): Promise<void> {
  const heard = dave.nextMessage();
  await alice.evaluate((text) => (window as unknown as SipWindow).protoflyDemo.sip.chat(text), CHAT_TO_DAVE);
  const got = await heard;
  if (got.body !== CHAT_TO_DAVE)
    throw new ProtoflyError('PF_ERR_DEMO', `Dave got ${JSON.stringify(got.body)}`);
  await dave.send(ALICE_AT_C, CHAT_FROM_DAVE);
  await reach(alice, `#log li[data-from="${DAVE}"]`, 'Dave’s chat reaches Alice’s page');
  const answered = dave.nextCall().then(async (session) => {
    const confirmed = new Promise((resolve) => session.once('confirmed', resolve));
    dave.answer(session);
    await confirmed;
    return session;
  });
  const callId = await alice.evaluate(() => (window as unknown as SipWindow).protoflyDemo.sip.call());
  const session = await answered;
  const ended = new Promise((resolve) => session.once('ended', resolve));
  await alice.evaluate((id) => (window as unknown as SipWindow).protoflyDemo.sip.bye(id), callId);
  await ended;
}

async function open(opening: Promise<Page>, url: string): Promise<Page> {
  const page = await opening;
  await page.goto(url);
  return page;
}

/** Types `text` into a page's chat form and sends it. */
async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

/** Waits until `selector` is in the page, or the page failed: then its error. */
async function reach(page: Page, selector: string, step: string): Promise<void> {
  try {
    await page.waitForSelector(`${selector}, body[data-state="failed"]`, { state: 'attached' });
  } catch (err) {
    throw new ProtoflyError('PF_ERR_DEMO', `${step}: not reached (${(err as Error).message.split('\n')[0]})`);
  }
  const failed = await page.evaluate(() => document.body.dataset.state === 'failed');
  if (!failed) return;
  const { error } = await report(page);
  throw new ProtoflyError(
    isErrorCode(error?.code) ? error.code : 'PF_ERR_DEMO',
    `${step}: ${error?.message ?? 'failed'}`,
  );
}

function report(page: Page): Promise<PageReport> {
  return page.evaluate(() =>
    (window as unknown as { protoflyDemo: { report(): Promise<PageReport> } }).protoflyDemo.report(),
  );
}
