import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ProtoflyError } from '../core/errors.js';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import type { CheckEvent } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { SandboxHost } from '../sandbox/host.js';
import type { NodeHostKind } from '../sandbox/isolate/choose.js';
import { generateDomainKey } from '../server/catalogue/keys.js';
import { startLocalDomains } from '../server/domain.js';
import { KAMAILIO_INSTALL, kamailioInstalled, startKamailio } from '../server/kamailio.js';
import { type JsSipUser, jssipUser } from '../server/sip-client/jssip-user.js';
import { sdp } from '../server/sip-client/sdp-peer-connection.js';
import { type RunningSipDomain, type SipDomainOptions, startSipDomain } from '../server/sip-domain.js';
import { type DemoReport, demoHost, emptyReport, failureOf, phaseTimer } from './demo-report.js';
import {
  ERIN,
  requireProsody,
  startXmppPart,
  XMPP_COLUMNS,
  XMPP_DOMAIN,
  type XmppPart,
} from './demo-xmpp.js';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
/** Dave, c.example's SIP user, as a protofly address; Alice as Dave sees her, a guest at c.example. */
export const DAVE = 'user://c.example/dave';
export const ALICE_AT_C = 'sip:alice~a.example@c.example';
const COLUMNS = [
  'bob@b.example',
  'b.example node',
  'alice@a.example',
  'c.example catalogue, guests',
  'Kamailio c.example',
  'dave (JsSIP)',
];
const [B, NODE, A, CAT, KAM, D] = [0, 1, 2, 3, 4, 5] as const;

/** c.example as the SIP demos run it (`protofly demo --sip`, `protofly demo --web --sip`). */
export interface SipPeer {
  /** c.example's catalogue, which serves its sip-ws stub. */
  readonly catalogueUrl: string;
  /** Where a page's sip-ws stub connects: Kamailio's WebSocket and the guest service. */
  readonly origins: readonly string[];
  /** Dave, registered at Kamailio with JsSIP. */
  readonly dave: JsSipUser;
  close(): Promise<void>;
}

/**
 * Starts c.example in `dir`: Kamailio with its user Dave, its protofly side (a catalogue serving
 * the sip-ws stub, the guest service, which reads `peers` for the other domains' keys), and
 * Dave registered with JsSIP.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` saying how to install Kamailio when it is missing.
 */
export async function startSipPeer(
  dir: string,
  peers: Readonly<Record<string, string>>,
  log: SipDomainOptions['log'],
): Promise<SipPeer> {
  if (!kamailioInstalled()) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `the SIP demo runs Kamailio as c.example's SIP server, and it is not installed. Install it (Debian/Ubuntu, as root):\n  ${KAMAILIO_INSTALL}\nthen run it again. (protofly demo, without --sip, needs nothing.)`,
    );
  }
  const davePassword = randomBytes(12).toString('base64url');
  const kamailio = await startKamailio({ domain: 'c.example', users: { dave: davePassword } });
  let sip: RunningSipDomain | undefined;
  try {
    sip = await startSipDomain({
      domain: 'c.example',
      key: await generateDomainKey('c.example', join(dir, 'c.example', 'keys')),
      dataDir: join(dir, 'c.example'),
      sipUrl: kamailio.wsUrl,
      rpcUrl: kamailio.rpcUrl,
      peers,
      log,
    });
    const dave = await jssipUser(kamailio.wsUrl, 'c.example', 'dave', davePassword);
    const running = sip;
    return {
      catalogueUrl: sip.catalogueUrl,
      origins: [new URL(kamailio.wsUrl).origin, new URL(sip.guestUrl).origin],
      dave,
      async close() {
        await dave.stop();
        await running.close();
        await kamailio.stop();
      },
    };
  } catch (err) {
    await sip?.close();
    await kamailio.stop();
    throw err;
  }
}

/**
 * `protofly demo --sip`: the cross-protocol conversation. a.example and b.example are protofly
 * domains (json-ws); c.example runs Kamailio, and Dave uses JsSIP there. Alice's runtime, which
 * has never seen c.example, loads its sip-ws stub from c.example's catalogue, verifies it, gets
 * guest credentials with her a.example token, registers as sip:alice~a.example@c.example, and
 * chats and calls with Dave, while it chats with Bob over json-ws.
 *
 * `protofly demo --xmpp` (`xmpp`) adds x.example, a Prosody domain (cli/demo-xmpp.ts): the same
 * runtime also loads its xmpp-ws stub, logs in there as a guest, and chats with Erin, who uses
 * @xmpp/client.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` saying how to install Kamailio (or, with `xmpp`,
 *   Prosody) when it is missing.
 */
export async function runSipDemo(
  options: { readonly xmpp?: boolean; readonly sandbox?: NodeHostKind } = {},
): Promise<DemoReport> {
  if (options.xmpp) requireProsody();
  const report = emptyReport(options.xmpp ? [...COLUMNS, ...XMPP_COLUMNS] : COLUMNS);
  const rows = report.ladder.rows;
  const phase = phaseTimer(report);
  const dir = await mkdtemp(join(tmpdir(), 'protofly-demo-sip-'));
  const log = pino({ level: 'silent' });
  const local = await startLocalDomains(['a.example', 'b.example'], dir, { users: new Map(), log });
  const peers = local.peers as Record<string, string>;
  const runtimes: NodeRuntime[] = [];
  let sip: SipPeer | undefined;
  let xmpp: XmppPart | undefined;
  let host: SandboxHost | undefined;
  try {
    sip = await startSipPeer(dir, peers, log);
    const { catalogueUrl, dave } = sip;
    peers['c.example'] = catalogueUrl;
    if (options.xmpp) {
      xmpp = await startXmppPart(dir, peers, log);
      peers[XMPP_DOMAIN] = xmpp.catalogueUrl;
    }
    phase(`domains (a, b: protofly; c: Kamailio; dave registers${xmpp ? '; x: Prosody' : ''})`);
    host = await demoHost(report, undefined, options.sandbox);
    phase('sandbox');

    const runtimeFor = (address: string, onCheck?: (e: CheckEvent) => void) => {
      const home = local.byName.get(address.split('/')[2]!)!;
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        identity: { address, token: (aud) => home.identity.issue(address, 600, aud) },
        catalogues: peers,
        host: host!,
        // The demo's domains get new keys each run: what its runtimes learn stays in its directory.
        dataDir: join(dir, 'runtimes', String(runtimes.length)),
        ...(onCheck ? { onCheck } : {}),
      });
      runtimes.push(rt);
      return rt;
    };
    const bob = runtimeFor(BOB);
    await bob.runtime.register();
    rows.push({ from: B, to: NODE, label: 'register json-ws' });
    rows.push({ from: D, to: KAM, label: 'REGISTER (digest)' });
    phase('bob registers');
    const bobHears = new Promise<Conversation>((resolve) => bob.runtime.on('conversation', resolve));

    const checks: CheckEvent[] = [];
    const alice = runtimeFor(ALICE, (e) => checks.push(e));
    rows.push({ from: A, to: CAT, label: 'GET stub/default' });
    const [withBob, withDave, withErin] = await Promise.all([
      alice.runtime.conversation(BOB, { capabilities: ['chat'] }),
      alice.runtime.conversation(DAVE, { capabilities: ['chat', 'call'] }),
      xmpp ? alice.runtime.conversation(ERIN, { capabilities: ['chat'] }) : undefined,
    ]);
    /** The rows of a stub loaded from `url`, a catalogue in column `column`: what came, and what was verified. */
    const loaded = (domain: string, url: string, column: number, c: Conversation) => {
      const name = `${c.carrier.name}@${c.carrier.version}`;
      rows.push({ from: column, to: A, label: `${name} + package` });
      const verified = checks
        .filter((e) => e.url.startsWith(url))
        .map((e) => e.check)
        .filter((check) => ['schema', 'signature', 'engine', 'integrity'].includes(check));
      rows.push({ note: `${domain}'s ${name} verified: ${[...new Set(verified)].join(', ')}` });
      return name;
    };
    const stub = loaded('c.example', catalogueUrl, CAT, withDave);
    if (xmpp && withErin) {
      rows.push({ from: A, to: COLUMNS.length, label: 'GET stub/default' });
      loaded(XMPP_DOMAIN, xmpp.catalogueUrl, COLUMNS.length, withErin);
    }
    rows.push({ from: A, to: CAT, label: 'guest? (a.example token)' });
    rows.push({ from: CAT, to: A, label: 'alice~a.example, password' });
    rows.push({ from: A, to: KAM, label: `REGISTER (digest) [${stub}]` });
    rows.push({ from: A, to: NODE, label: 'connect json-ws' });
    phase(`alice loads c.example’s${xmpp ? ', x.example’s' : ''} and b.example’s stubs`);
    for (const domain of ['b.example', 'c.example', ...(xmpp ? [XMPP_DOMAIN] : [])]) {
      const pkg = await alice.loader.load({ domain });
      report.stubs.push({
        for: ALICE,
        domain: pkg.descriptor.domain,
        name: pkg.descriptor.name,
        version: pkg.descriptor.version,
        integrity: pkg.descriptor.sourcePackage.integrity,
        verified: true,
        signedBy: pkg.signedBy,
      });
    }

    const count = async <T>(sending: Promise<T>, arrived: Promise<unknown>): Promise<T> => {
      report.messages.sent++;
      const [result] = await Promise.all([sending, arrived]);
      report.messages.delivered++;
      return result;
    };
    const next = (c: Conversation) =>
      new Promise<Incoming>((resolve) => {
        const off = c.on('message', (m) => {
          off();
          resolve(m);
        });
      });

    await count(withDave.send('Hello Dave: I loaded c.example’s SIP stub on the fly'), dave.nextMessage());
    rows.push({ from: A, to: KAM, label: `MESSAGE [${stub}]` }, { from: KAM, to: D, label: 'MESSAGE' });
    // Bob's conversation exists once Alice's first message arrived; it holds that message for him.
    await count(withBob.send('Hello Bob, over json-ws'), bobHears.then(next));
    const withAlice = await bobHears;
    rows.push({ from: A, to: NODE, label: 'chat [json-ws]' }, { from: NODE, to: B, label: 'chat' });
    const fromDave = next(withDave);
    await count(dave.send(ALICE_AT_C, 'Hello Alice, from Kamailio'), fromDave);
    rows.push({ from: D, to: KAM, label: 'MESSAGE' }, { from: KAM, to: A, label: `MESSAGE [${stub}]` });
    await count(withAlice.send('Hello Alice, from b.example'), next(withBob));
    rows.push({ from: B, to: NODE, label: 'chat' }, { from: NODE, to: A, label: 'chat [json-ws]' });
    phase('chat both ways, both protocols');
    if (xmpp && withErin) {
      await xmpp.chat(withErin, count, next, rows, { alice: A, first: COLUMNS.length });
      phase('chat both ways with Erin, over XMPP');
    }

    const events = withDave[Symbol.asyncIterator]();
    const callId = await count(
      withDave.call(sdp('alice'), ['audio']),
      dave.nextCall().then(async (session) => {
        const confirmed = new Promise((resolve) => session.once('confirmed', resolve));
        dave.answer(session);
        await confirmed;
      }),
    );
    rows.push(
      { from: A, to: KAM, label: `INVITE (SDP offer) [${stub}]` },
      { from: KAM, to: D, label: 'INVITE' },
    );
    rows.push({ from: D, to: A, label: '180 Ringing' });
    rows.push({ from: D, to: A, label: '200 OK (SDP answer)' }, { from: A, to: D, label: 'ACK' });
    let event = await events.next();
    while (!event.done && event.value.body.kind !== 'answer') event = await events.next();
    if (event.done) throw new ProtoflyError('PF_ERR_CONVERSATION', 'the call ended before its answer');
    const ended = dave.incoming.at(-1)!;
    await count(withDave.bye(callId), new Promise((resolve) => ended.once('ended', resolve)));
    rows.push({ from: A, to: KAM, label: `BYE [${stub}]` }, { from: KAM, to: D, label: 'BYE' });
    phase('call: offer, answer, ACK, BYE');
    report.ok = report.messages.sent === report.messages.delivered;
  } catch (err) {
    report.error = failureOf(err);
  } finally {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    await xmpp?.close();
    await host?.terminate();
    await sip?.close();
    await local.close();
    await rm(dir, { recursive: true, force: true });
  }
  return report;
}
