/**
 * The web demo's page (`protofly demo --web`), one per user, each served from its own origin
 * under `script-src 'self'` (cli/web/page-server.ts; bundled into dist/demo-page.js). It loads
 * the built protofly/browser from its origin and starts the user's runtime in the page. Bob's
 * page registers with b.example; Alice's page opens a conversation with Bob, which loads
 * b.example's stub from b.example's catalogue, verifies it and runs it in a Web Worker. The page
 * shows the verification steps, the chat, the call (camera, microphone, data channel round
 * trip) and a live SVG ladder of the signaling it sees, with the stub and version of each hop.
 * `window.protoflyDemo.report()` is what `protofly demo --web --headless` reads back.
 */
import type * as Browser from '../../entry/browser.js';
import type { DemoReport, SipReport } from '../demo-report.js';
import type { Row } from '../ladder.js';
import { PageCall, type SendSignal } from './call.js';
import { SvgLadder } from './ladder-svg.js';

/** What a page is told by its server at /demo.json. */
export interface PageSettings {
  readonly address: string;
  /** Whom this page chats with and calls; none: the page registers and answers. */
  readonly peer?: string;
  /** The domain whose stub the page shows (b.example). */
  readonly domain: string;
  readonly catalogues: Record<string, string>;
  readonly columns: readonly string[];
  /** This user's, the catalogue's and the node's columns in the ladder. */
  readonly column: { readonly me: number; readonly catalogue: number; readonly node: number };
  /**
   * `--web --sip`: a SIP user (Dave at c.example, on Kamailio) this page also chats with and
   * calls through c.example's sip-ws stub; `column`, the SIP server's in the ladder.
   */
  readonly sip?: { readonly peer: string; readonly column: number };
}

/** What a page did, for the command's JSON report. */
export interface PageReport {
  readonly stubs: DemoReport['stubs'];
  readonly checks: readonly { check: string; detail: string }[];
  readonly rows: readonly Row[];
  /** Chats, offers, answers and byes (candidates are drawn, not counted). */
  readonly messages: { sent: number; received: number };
  /** The chat log: the page's user's lines and the peer's. */
  readonly chats: readonly { from: string; text: string }[];
  /** What the page's Content Security Policy refused (`directive URL`). */
  readonly violations: readonly string[];
  readonly webrtc?: { connected: boolean; rttMs: number; remoteTracks: string[] };
  /** `--web --sip`: the conversation with the SIP user, and what went on it. */
  readonly sip?: SipReport;
  readonly error?: { code: string; message: string };
}

/** What the ladder draws but the counts leave out: as many as ICE gathers. */
const UNCOUNTED = new Set(['candidate']);

const $ = <T extends Element = HTMLElement>(id: string) => document.getElementById(id) as unknown as T;
const state = (s: string) => {
  document.body.dataset.state = s;
};

const settings = (await (await fetch('/demo.json')).json()) as PageSettings;
const { me, catalogue: CAT, node: NODE } = settings.column;
const rows: Row[] = [];
const ladder = new SvgLadder($<SVGSVGElement>('ladder'), settings.columns);
const draw = (row: Row) => {
  rows.push(row);
  ladder.add(row);
};
const checks: { check: string; detail: string }[] = [];
/** Whether the checks shown are still those of the first load (the report's loads again, from memory). */
let verifying = true;
/** What the page's Content Security Policy refused: nothing, if the page keeps to it. */
const violations: string[] = [];
document.addEventListener('securitypolicyviolation', (e) =>
  violations.push(`${e.violatedDirective} ${e.blockedURI}`),
);
const chats: { from: string; text: string }[] = [];
const messages = { sent: 0, received: 0 };
let error: PageReport['error'];
let webrtc: PageReport['webrtc'];
let chat: Browser.Conversation | undefined;
let call: PageCall | undefined;
const videos = { local: $<HTMLVideoElement>('local'), remote: $<HTMLVideoElement>('remote') };

/** Shows a failure in the page and keeps it for the report: its code and message, no stack. */
function fail(err: unknown): void {
  const e = err as { code?: string; message?: string };
  const code = e.code ?? 'PF_ERR_DEMO';
  const message = e.message ?? String(err);
  // A ProtoflyError's message starts with its code.
  error ??= { code, message: message.startsWith(`${code}: `) ? message.slice(code.length + 2) : message };
  $('status').textContent = `${error.code}: ${error.message}`;
  state('failed');
}
addEventListener('unhandledrejection', (e) => fail(e.reason));

$('who').textContent = `${settings.address} (${location.origin})`;
const lib = (await import(`${location.origin}/browser.js`)) as typeof Browser;
const { runtime, loader } = lib.createBrowserRuntime({
  identity: {
    address: settings.address,
    // Tokens from the user's home domain, handed out by this page's own server (the demo skips
    // the log-in; `protofly login` and the token endpoint do it for real).
    token: async (audience) => {
      const res = await fetch(`/token?audience=${encodeURIComponent(audience)}`);
      if (!res.ok) throw new Error(`no token for ${audience}: HTTP ${res.status}`);
      return res.text();
    },
  },
  workerUrl: new URL('/browser-worker.js', location.origin),
  catalogues: settings.catalogues,
  policy: 'development',
  // The demo's domains get new keys each run: a key trusted on first use kept in IndexedDB
  // would refuse the next run's. What the page learns lasts as long as the page.
  database: false,
  onCheck: ({ check, detail }) => {
    if (!verifying) return;
    checks.push({ check, detail });
    const li = document.createElement('li');
    li.textContent = `${check}: ${detail}`;
    $('checks').append(li);
  },
});

const carried = (c: Browser.Conversation) => `${c.carrier.name}@${c.carrier.version}`;

/** Sends one body on `c`, drawn on the ladder with the version that carries it. */
const sender =
  (c: Browser.Conversation): SendSignal =>
  (body) => {
    if (!UNCOUNTED.has(body.kind)) messages.sent++;
    draw({ from: me, to: NODE, label: `${body.kind} [${carried(c)}]` });
    return c.post(body);
  };

/** Takes what arrives on `c`: chats to the log, a call's signaling to the call. */
function listen(c: Browser.Conversation): void {
  chat ??= c;
  $<HTMLButtonElement>('send').disabled = false;
  $<HTMLButtonElement>('dial').disabled = call !== undefined;
  c.on('message', ({ body }) => {
    if (!UNCOUNTED.has(body.kind)) messages.received++;
    draw({ from: NODE, to: me, label: `${body.kind} [${carried(c)}]` });
    if (body.kind === 'chat') return say(c.peer, body.text);
    if (body.kind === 'offer') {
      // One call at a time: another offer meanwhile is busy here (486).
      if (call) return void sender(c)({ kind: 'reject', code: 486, callId: body.callId }).catch(fail);
      return void follow(PageCall.answer(body, sender(c), videos)).catch(fail);
    }
    call?.signal(body).catch(fail);
  });
}

/** Appends a chat line to the log. */
function say(from: string, text: string): void {
  chats.push({ from, text });
  const li = document.createElement('li');
  li.dataset.from = from;
  li.textContent = `${from}: ${text}`;
  $('log').append(li);
}

/** Shows `c`'s state as it changes (ringing, connected, ended); once it ended, the page may call again. */
async function follow(c: PageCall): Promise<void> {
  call = c;
  $<HTMLButtonElement>('dial').disabled = true;
  document.body.dataset.call = 'ringing';
  $('call-state').textContent = 'ringing';
  c.connected.then(() => {
    if (call !== c) return;
    document.body.dataset.call = 'connected';
    $('call-state').textContent = `connected (${c.remoteTracks().join(', ')} from the peer)`;
    $<HTMLButtonElement>('hangup').disabled = false;
  }, fail);
  await c.ready;
  await c.ended;
  call = undefined;
  document.body.dataset.call = 'ended';
  $('call-state').textContent = 'ended';
  $<HTMLButtonElement>('hangup').disabled = true;
  $<HTMLButtonElement>('dial').disabled = false;
}

$('say').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $<HTMLInputElement>('text');
  const text = input.value.trim();
  if (!chat || !text) return;
  input.value = '';
  say(settings.address, text);
  sender(chat)({ kind: 'chat', text }).catch(fail);
});

$('dial').addEventListener('click', () => {
  if (!chat || call) return;
  delete document.body.dataset.rtt;
  const placed = PageCall.place(sender(chat), videos);
  follow(placed).catch(fail);
  void (async () => {
    await placed.connected;
    const rttMs = await placed.rttMs();
    webrtc = { connected: true, rttMs, remoteTracks: placed.remoteTracks() };
    $('rtt').textContent = `data channel round trip: ${rttMs.toFixed(2)} ms`;
    document.body.dataset.rtt = String(rttMs);
  })().catch(fail);
});

$('hangup').addEventListener('click', () => {
  $<HTMLButtonElement>('hangup').disabled = true;
  call?.hangUp().catch(fail);
});

/** The stubs this page's runtime verified (`settings.domain`'s, and the SIP user's domain's), as the report lists them. */
async function stubs(): Promise<DemoReport['stubs']> {
  const domains = [settings.domain, ...(sip ? [sip.report.peer.split('/')[2]!] : [])];
  const pkgs = await Promise.all(domains.map((domain) => loader.load({ domain })));
  const main = pkgs[0]!.descriptor;
  $('stub').textContent =
    `${main.domain}/${main.name}@${main.version} ${main.sourcePackage.integrity}, signed by ${pkgs[0]!.signedBy}`;
  return pkgs.map((pkg) => ({
    for: settings.address,
    domain: pkg.descriptor.domain,
    name: pkg.descriptor.name,
    version: pkg.descriptor.version,
    integrity: pkg.descriptor.sourcePackage.integrity,
    verified: true,
    signedBy: pkg.signedBy,
  }));
}

/** The conversation with the SIP user, once open (`--web --sip`). */
let sip:
  | { c: Browser.Conversation; report: SipReport & { messages: { sent: number; received: number } } }
  | undefined;
/** The SIP user's SDP answers, by call. */
const answers = new Map<string, () => void>();

/** Opens the conversation with `settings.sip.peer`: c.example's stub loaded, verified and run like b.example's. */
async function openSip(peer: string, column: number): Promise<void> {
  draw({ from: me, to: column, label: `GET ${peer.split('/')[2]} stub/default` });
  const c = await runtime.conversation(peer, { capabilities: ['chat', 'call'] });
  const stub = carried(c);
  draw({ from: column, to: me, label: `REGISTER 200 [${stub}]` });
  const report = {
    peer,
    stub,
    messages: { sent: 0, received: 0 },
    call: { answered: false, ended: false },
  };
  sip = { c, report };
  c.on('message', ({ body }) => {
    report.messages.received++;
    draw({ from: column, to: me, label: `${body.kind} [${stub}]` });
    if (body.kind === 'chat') say(peer, body.text);
    if (body.kind === 'answer') answers.get(body.callId)?.();
  });
}

/** What the driver does in Alice's page with the SIP user (`--web --sip`); each resolves once it went. */
const sipActions = {
  /** Sends a chat to the SIP user. */
  async chat(text: string): Promise<void> {
    const { c, report } = sipOpen();
    say(settings.address, text);
    report.messages.sent++;
    draw({ from: me, to: settings.sip!.column, label: `chat [${report.stub}]` });
    await c.send(text);
  },
  /** Calls the SIP user with the page's own SDP offer (audio); resolves with the call's id once answered. */
  async call(): Promise<string> {
    const { c, report } = sipOpen();
    const pc = new RTCPeerConnection();
    pc.addTransceiver('audio');
    const offer = await pc.createOffer();
    pc.close();
    report.messages.sent++;
    draw({ from: me, to: settings.sip!.column, label: `offer [${report.stub}]` });
    const callId = crypto.randomUUID();
    const answered = new Promise<void>((resolve) => answers.set(callId, resolve));
    await c.call(offer.sdp ?? '', ['audio'], callId);
    await answered;
    report.call.answered = true;
    return callId;
  },
  /** Ends the call `callId`. */
  async bye(callId: string): Promise<void> {
    const { c, report } = sipOpen();
    report.messages.sent++;
    draw({ from: me, to: settings.sip!.column, label: `bye [${report.stub}]` });
    await c.bye(callId);
    report.call.ended = true;
  },
};
function sipOpen(): NonNullable<typeof sip> {
  if (!sip) throw new Error('no conversation with the SIP user: the page was not started with one');
  return sip;
}

(
  globalThis as unknown as { protoflyDemo: { report(): Promise<PageReport>; sip: typeof sipActions } }
).protoflyDemo = {
  sip: sipActions,
  async report() {
    return {
      stubs: error ? [] : await stubs(),
      checks,
      rows,
      messages,
      chats,
      violations,
      ...(webrtc ? { webrtc } : {}),
      ...(sip ? { sip: sip.report } : {}),
      ...(error ? { error } : {}),
    };
  },
};

try {
  const peer = settings.peer;
  $('status').textContent = peer
    ? `loading ${settings.domain}'s stub`
    : `registering with ${settings.domain}`;
  draw({ from: me, to: CAT, label: `GET ${settings.domain} stub/default` });
  let opened: Browser.Conversation | undefined;
  if (peer) opened = await runtime.conversation(peer, { capabilities: ['chat', 'call'] });
  else {
    runtime.on('conversation', listen);
    await runtime.register();
  }
  verifying = false;
  const [own] = await stubs();
  const stub = `${own!.name}@${own!.version}`;
  draw({ from: CAT, to: me, label: `${stub} + package` });
  draw({ note: `verified ${[...new Set(checks.map((k) => k.check))].join(', ')}` });
  if (opened) {
    draw({ from: me, to: NODE, label: `connect ${stub}, token of ${settings.address.split('/')[2]}` });
    listen(opened);
    if (settings.sip) await openSip(settings.sip.peer, settings.sip.column);
    $('status').textContent =
      `live with ${peer} through ${settings.domain}'s ${stub}${settings.sip ? `, and with ${settings.sip.peer} through ${sip!.report.stub}` : ''}`;
    state('live');
  } else {
    draw({ from: me, to: NODE, label: `register [${stub}]` });
    $('status').textContent = `registered with ${settings.domain}: waiting for a chat or a call`;
    state('registered');
  }
} catch (err) {
  fail(err);
}
