import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNodeRuntime, type NodeRuntime } from '../entry/node-runtime.js';
import type { Conversation, Incoming } from '../runtime/conversation.js';
import type { CheckEvent } from '../runtime/loader.js';
import { developmentPolicy } from '../runtime/policy.js';
import type { SandboxHost } from '../sandbox/host.js';
import { NODE_HOST_KINDS, type NodeHostKind } from '../sandbox/isolate/choose.js';
import { startLocalDomains } from '../server/domain.js';
import { type Command, parse, untilSignal, usageError } from './command.js';
import { runClusterDemo } from './demo-cluster.js';
import {
  COLUMN,
  COLUMNS,
  type DemoReport,
  demoHost,
  emptyReport,
  failureOf,
  phaseTimer,
} from './demo-report.js';
import { runSipDemo } from './demo-sip.js';
import type { DemoInterlude } from './demo-stage.js';
import { swapInterlude } from './demo-swap.js';
import { runWebDemo, startWebDemo } from './demo-web.js';
import { renderLadder } from './ladder.js';
import { DEFAULT_CHROMIUM } from './web/drive.js';

const usage =
  'protofly demo [--sip | --xmpp | --swap | --cluster] [--sandbox <kind>] [--json] | protofly demo --web [--sip] [--headless [--json] [--chromium <path>] [--screenshots <dir>]]';

const ALICE = 'user://a.example/alice';
const BOB = 'user://b.example/bob';
const { alice: A, catalogue: CAT, node: NODE, bob: B } = COLUMN;

/**
 * The demo: two domains on loopback, each with its own key, catalogue and node; Bob's runtime
 * registers with b.example, and Alice's runtime, which has never seen b.example, loads its stub
 * on the fly, verifies it, chats with Bob and makes a call offer/answer through it.
 */
export async function runDemo(interlude?: DemoInterlude, sandbox?: NodeHostKind): Promise<DemoReport> {
  const report = emptyReport(COLUMNS);
  const rows = report.ladder.rows;
  const dir = await mkdtemp(join(tmpdir(), 'protofly-demo-'));
  const runtimes: NodeRuntime[] = [];
  let host: SandboxHost | undefined;
  const phase = phaseTimer(report);
  const local = await startLocalDomains(['a.example', 'b.example'], dir, {
    users: new Map(),
    log: pino({ level: 'silent' }),
  });
  try {
    phase('domains');
    host = await demoHost(report, undefined, sandbox);
    phase('sandbox');
    const runtimeFor = (address: string, who: number, onCheck?: (e: CheckEvent) => void) => {
      const home = local.byName.get(address.split('/')[2]!)!;
      const rt = createNodeRuntime({
        policy: developmentPolicy,
        identity: { address, token: (aud) => home.identity.issue(address, 600, aud) },
        catalogues: local.peers,
        host: host!,
        // The demo's domains get new keys each run: what its runtimes learn stays in its directory.
        dataDir: join(dir, 'runtimes', String(runtimes.length)),
        ...(onCheck ? { onCheck } : {}),
        ...(interlude?.updates ? { updates: interlude.updates } : {}),
      });
      runtimes.push(rt);
      return { rt, who };
    };
    const checks: string[] = [];
    const bob = runtimeFor(BOB, B);
    await bob.rt.runtime.register();
    rows.push({ from: B, to: NODE, label: 'register json-ws' });
    phase('bob registers');
    const incoming = new Promise<Conversation>((resolve) => bob.rt.runtime.on('conversation', resolve));

    const alice = runtimeFor(ALICE, A, (e) => checks.push(e.check));
    rows.push({ from: A, to: CAT, label: 'GET stub/default' });
    const withBob = await alice.rt.runtime.conversation(BOB, { capabilities: ['chat', 'call'] });
    const c = withBob.carrier;
    const stub = `${c.name}@${c.version}`;
    // What carries Alice's side now: another version after a swap.
    const carried = () => `${withBob.carrier.name}@${withBob.carrier.version}`;
    rows.push({ from: CAT, to: A, label: `${stub} + package` });
    rows.push({
      note: `verified ${checks.filter((k) => ['schema', 'signature', 'engine', 'integrity'].includes(k)).join(', ')}`,
    });
    rows.push({ from: A, to: NODE, label: `connect ${stub}, token of a.example` });
    phase('alice loads, verifies and starts b.example stub');
    for (const [rt, who] of [
      [alice.rt, ALICE],
      [bob.rt, BOB],
    ] as const) {
      const pkg = await rt.loader.load({ domain: 'b.example' });
      report.stubs.push({
        for: who,
        domain: pkg.descriptor.domain,
        name: pkg.descriptor.name,
        version: pkg.descriptor.version,
        integrity: pkg.descriptor.sourcePackage.integrity,
        verified: true,
        signedBy: pkg.signedBy,
      });
    }

    const exchange = async (
      to: Promise<Conversation> | Conversation,
      send: () => Promise<unknown>,
      label: string,
      dir: 1 | -1,
    ) => {
      report.messages.sent++;
      const sending = send();
      // An incoming conversation exists only once the first message arrived; what arrived
      // before its first listener is held for it.
      const target = await to;
      const m = await new Promise<Incoming>((resolve) => {
        const off = target.on('message', (msg) => {
          off();
          resolve(msg);
        });
      });
      await sending;
      report.messages.delivered++;
      rows.push(
        dir === 1 ? { from: A, to: NODE, label: `${label} [${carried()}]` } : { from: B, to: NODE, label },
      );
      rows.push(
        dir === 1 ? { from: NODE, to: B, label } : { from: NODE, to: A, label: `${label} [${carried()}]` },
      );
      return { target, m };
    };
    const { target: withAlice } = await exchange(
      incoming,
      () => withBob.send('Hello Bob: I loaded your domain’s stub on the fly'),
      'chat',
      1,
    );
    await exchange(withBob, () => withAlice.send('Hello Alice'), 'chat', -1);
    phase('chat both ways');
    if (interlude) {
      await interlude.run({
        alice: alice.rt.runtime,
        bob: bob.rt.runtime,
        withBob,
        rows,
        report,
        column: COLUMN,
        domain: (name) => local.byName.get(name)!,
      });
      phase(interlude.phase);
    }
    let callId = '';
    await exchange(
      withAlice,
      async () => {
        callId = await withBob.call(
          'v=0\r\no=alice 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n',
          ['audio'],
        );
      },
      'offer (SDP)',
      1,
    );
    await exchange(
      withBob,
      () =>
        withAlice.answer(
          callId,
          'v=0\r\no=bob 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n',
        ),
      'answer (SDP)',
      -1,
    );
    await exchange(withAlice, () => withBob.bye(callId), 'bye', 1);
    phase('call offer/answer/bye');
    report.ok = report.messages.sent === report.messages.delivered;
  } catch (err) {
    report.error = failureOf(err);
  } finally {
    await Promise.allSettled(runtimes.map((r) => r.close()));
    await host?.terminate();
    await local.close();
    await rm(dir, { recursive: true, force: true });
  }
  return report;
}

export const demo: Command = {
  summary:
    'two domains on loopback: Alice loads b.example’s stub on the fly, chats and calls Bob; --sip adds Dave at c.example (Kamailio, JsSIP), --xmpp also Erin at x.example (Prosody, @xmpp/client); --swap releases a new b.example stub mid-demo, swapped live; --web in two browser pages, with a WebRTC call; --cluster on three network hosts behind a balancer, one killed mid-chat',
  usage,
  help: [
    'Options:',
    '  --sip     also Dave at c.example, a Kamailio domain: json-ws and SIP in one runtime (needs kamailio)',
    '  --xmpp    --sip, and also Erin at x.example, a Prosody domain: json-ws, SIP and XMPP in one runtime',
    '            (needs kamailio and prosody)',
    '  --swap    b.example releases json-ws 0.2.0 between the chat and the call; conversations move live',
    '  --cluster c.example on three hosts, each a network namespace, behind HAProxy on a Redis Cluster;',
    '            six users chat across them and one host is killed mid-chat (needs root, iproute2,',
    '            haproxy and redis-server); the report adds hosts and lost',
    '  --sandbox <kind>  where the runtimes run stubs: worker (threads, the default), process (a child',
    '            process per sandbox: what V8 treats as fatal ends only that one) or isolate (Node 24,',
    '            trusted stubs; falls back to worker where isolated-vm does not load); not with --web',
    '  --json    the report as one JSON object: ok, host, stubs, messages, timings, ladder',
    '  --web     a page per user, each on its own loopback origin: Alice’s page loads b.example’s stub,',
    '            verifies it and runs it in a Web Worker; a chat, then a WebRTC call (camera, microphone,',
    '            data channel) through that stub. Prints the two URLs and serves until Ctrl-C. With --sip,',
    '            Alice’s page also chats with and calls Dave at c.example through its sip-ws stub',
    '  --headless  with --web: drives Chromium itself (fake camera and microphone) and prints the report,',
    '            plus webrtc: { connected, rttMs } (and sip: { peer, stub, messages, call } with --sip)',
    `  --chromium <path>  the Chromium --headless drives (default ${DEFAULT_CHROMIUM}; none is downloaded)`,
    '  --screenshots <dir>  with --headless: saves alice.png and bob.png there once the call is up',
    '',
    'Everything runs on loopback in a temporary folder, removed at the end.',
    '',
    'Example:',
    '  protofly demo --swap',
    '  protofly demo --web --headless --json',
  ].join('\n'),
  async run(args) {
    const { values } = parse(
      args,
      {
        json: { type: 'boolean' },
        sip: { type: 'boolean' },
        xmpp: { type: 'boolean' },
        swap: { type: 'boolean' },
        cluster: { type: 'boolean' },
        web: { type: 'boolean' },
        headless: { type: 'boolean' },
        chromium: { type: 'string' },
        screenshots: { type: 'string' },
        sandbox: { type: 'string' },
      },
      'demo',
    );
    const sandbox = values.sandbox;
    if (sandbox !== undefined && !NODE_HOST_KINDS.includes(sandbox as NodeHostKind)) {
      throw usageError('demo', `--sandbox is one of ${NODE_HOST_KINDS.join(', ')}, not '${sandbox}'`);
    }
    const kind = sandbox as NodeHostKind | undefined;
    if (kind && values.web)
      throw usageError('demo', '--sandbox is for the Node demos: pages run stubs in Web Workers');
    const cross = values.sip || values.xmpp;
    if (values.cluster && (cross || values.swap || values.web))
      throw usageError('demo', '--cluster is a demo of its own: without --sip, --xmpp, --swap or --web');
    if (cross && values.swap)
      throw usageError('demo', '--sip (or --xmpp) and --swap are two demos: choose one');
    if (values.web && (values.xmpp || values.swap)) {
      throw usageError(
        'demo',
        '--web runs the demo of Alice and Bob (and Dave with --sip): without --xmpp or --swap',
      );
    }
    const headless = values.headless || values.chromium !== undefined || values.screenshots !== undefined;
    if (!values.web && headless)
      throw usageError('demo', '--headless, --chromium and --screenshots go with --web');
    if (values.web && !values.headless && (headless || values.json)) {
      throw usageError('demo', '--json, --chromium and --screenshots go with --web --headless');
    }
    if (values.web && !values.headless) {
      const web = await startWebDemo({ sip: values.sip ?? false });
      console.log(`Alice (a.example): ${web.pages.alice}`);
      console.log(`Bob   (b.example): ${web.pages.bob}`);
      console.log('Open Bob’s page first, then Alice’s; Ctrl-C stops the demo.');
      await untilSignal();
      await web.close();
      return 0;
    }
    // --sip: a.example's Alice also talks to Dave at c.example, a Kamailio domain (cli/demo-sip.ts);
    // --xmpp: and to Erin at x.example, a Prosody domain (cli/demo-xmpp.ts).
    // --swap: b.example releases a new version of its stub mid-demo, swapped live (cli/demo-swap.ts).
    const report = values.web
      ? await runWebDemo({
          chromium: values.chromium ?? DEFAULT_CHROMIUM,
          sip: values.sip ?? false,
          ...(values.screenshots ? { screenshots: values.screenshots } : {}),
        })
      : values.cluster
        ? await runClusterDemo(kind)
        : cross
          ? await runSipDemo({ xmpp: values.xmpp === true, ...(kind ? { sandbox: kind } : {}) })
          : await runDemo(values.swap ? swapInterlude : undefined, kind);
    if (values.json) {
      console.log(JSON.stringify(report, null, 2));
      return report.ok ? 0 : 1;
    }
    console.log(renderLadder(report.ladder.columns, report.ladder.rows));
    console.log('');
    for (const s of report.stubs) {
      console.log(
        `stub for ${s.for}: ${s.domain}/${s.name}@${s.version} ${s.integrity} ${s.verified ? `verified, signed by ${s.signedBy}` : 'NOT verified'}`,
      );
    }
    for (const s of report.swaps ?? []) {
      console.log(
        `swap in ${s.runtime}'s runtime: ${s.peer} ${s.from} → ${s.to}, messages held ${s.heldMs} ms`,
      );
    }
    if (report.host) {
      const { kind } = report.host;
      console.log(`stubs ran in: ${kind === 'browser' ? "the pages' Web Workers" : `the ${kind} host`}`);
    }
    console.log(`messages: ${report.messages.sent} sent, ${report.messages.delivered} delivered`);
    for (const h of report.hosts ?? []) {
      console.log(
        `${h.name} ${h.address}: ${h.users.join(', ') || 'no users'}${h.killed ? ' (killed mid-chat)' : ''}`,
      );
    }
    if (report.lost !== undefined) console.log(`lost: ${report.lost} acknowledged chats never arrived`);
    if (report.webrtc) {
      console.log(
        `webrtc: ${report.webrtc.connected ? 'connected' : 'NOT connected'}, data channel round trip ${report.webrtc.rttMs} ms`,
      );
    }
    if (report.sip) {
      const { peer, stub, messages, call } = report.sip;
      console.log(
        `sip: ${peer} through ${stub}, ${messages.sent} sent, ${messages.received} received, call ${call.answered ? 'answered' : 'NOT answered'}${call.ended ? ', ended' : ''}`,
      );
    }
    for (const [name, ms] of Object.entries(report.timings))
      console.log(`  ${ms.toFixed(1).padStart(8)} ms  ${name}`);
    if (report.error) {
      const { code, message } = report.error;
      // One line last on stderr, `PF_ERR_...: message`, as every command fails.
      const line = message.startsWith(`${code}: `) ? message : `${code}: ${message}`;
      console.error(line.replace(/\s*\n\s*/g, ' '));
    }
    console.log(report.ok ? 'ok' : 'FAILED');
    return report.ok ? 0 : 1;
  },
};
