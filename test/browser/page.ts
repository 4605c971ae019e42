/**
 * The page the Chromium test loads (served as /page.js, a module, under a strict Content
 * Security Policy): it imports the built `protofly/browser` from /browser.js and gives the test
 * a few calls on `window.pf`. Counts the policy violations the page sees.
 */

import { IdbStore, openDatabase } from '../../browser/idb-store.js';
import { type CallVideos, PageCall } from '../../cli/web/call.js';
import type * as Browser from '../../entry/browser.js';

interface Settings {
  readonly address: string;
  readonly catalogues: Record<string, string>;
  readonly database: string;
  /** The sandbox worker's path on this origin. Default /browser-worker.js. */
  readonly worker?: string;
  /** Log in with this password at the home domain's token endpoint, rather than take the test's tokens. */
  readonly password?: string;
  /** The update policy per carrier domain (`live`: running conversations swap to a new version). */
  readonly updates?: Record<string, 'pin' | 'new-conversations' | 'live'>;
}

const violations: string[] = [];
document.addEventListener('securitypolicyviolation', (e) =>
  violations.push(`${e.violatedDirective} ${e.blockedURI}`),
);

/**
 * The update streams the runtime opens with the page's EventSource, and the `publish` events
 * they deliver: the page's own EventSource, recorded (the runtime takes the global when made).
 */
const streams = { opened: [] as string[], connected: [] as string[], published: [] as string[] };
const PageEventSource = globalThis.EventSource;
globalThis.EventSource = class extends PageEventSource {
  constructor(url: string | URL, init?: EventSourceInit) {
    super(url, init);
    streams.opened.push(String(url));
    this.addEventListener('open', () => streams.connected.push(String(url)));
    this.addEventListener('publish', (e) => streams.published.push(String((e as MessageEvent).data)));
  }
};
/** The runtime's `update` events, as plain data. */
const updates: unknown[] = [];
let onUpdate: (() => void) | undefined;
/** The runtime's `version` events (which version carries which conversation), as plain data. */
const versions: { change: string; peer?: string; version: string; error?: string }[] = [];
let onSwap: (() => void) | undefined;

const received: Browser.Incoming[] = [];
/** A call's signaling after its offer, handed to the call rather than to `next()`. */
const SIGNALING = new Set(['answer', 'candidate', 'bye']);
/** The page's call, placed or answered. */
let calling: PageCall | undefined;
const waiting: ((m: Browser.Incoming) => void)[] = [];
let runtime: Browser.Runtime | undefined;
let chat: Browser.Conversation | undefined;

/** A refusal as plain data for the test: its code and message. */
const coded = (err: unknown) => ({ code: (err as { code?: string }).code, message: (err as Error).message });

const pf = {
  violations,
  streams,
  updates,
  versions,
  /**
   * Sends `a0`…`a<n-1>` through the conversation, each after the last one's 200; after
   * `a<half>` it waits for a live swap of the conversation (or its rollback), so that the swap comes mid-stream
   * however fast the machine is. How many had been sent when the swap came, and any send
   * that did not get its 200.
   */
  async stream(n: number, half: number) {
    let sentAtSwap = -1;
    let sent = 0;
    // A rollback ends the wait too: the test then fails on the events, rather than on its timeout.
    const swapped = new Promise<void>((resolve) => {
      onSwap = () => {
        sentAtSwap = sent;
        resolve();
      };
    });
    const failures: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = (await chat!.send(`a${i}`)).body;
      sent++;
      if (body.code !== 200) failures.push(`a${i}: ${body.code}`);
      if (i === half) await swapped;
    }
    return { sentAtSwap, failures };
  },
  /** The texts of the next `n` messages the conversation receives. */
  async texts(n: number): Promise<string[]> {
    const texts: string[] = [];
    for (let i = 0; i < n; i++) texts.push(String(((await pf.next()).body as { text?: string }).text));
    return texts;
  },
  /** The runtime's first `update` event with a carrier of `version`, or with an error. */
  async update(version: string): Promise<unknown> {
    for (;;) {
      const found = updates.find((u) => {
        const { carrier, error } = u as { carrier?: { version?: string }; error?: string };
        return carrier?.version === version || error !== undefined;
      });
      if (found) return found;
      await new Promise<void>((resolve) => {
        onUpdate = resolve;
      });
    }
  },
  /** Creates the runtime and opens a conversation with `peer`; the carrier, or the refusal. */
  async open(settings: Settings, peer: string) {
    // A module specifier the bundler leaves alone: the built package, as an app would load it.
    runtime = await start(settings);
    try {
      chat = await runtime.conversation(peer);
    } catch (err) {
      return { refused: coded(err) };
    }
    listen(chat);
    return { carrier: chat.carrier, status: chat.status };
  },
  /** Creates the runtime and registers it: the first conversation a peer opens becomes the page's. */
  async register(settings: Settings) {
    runtime = await start(settings);
    runtime.on('conversation', (c) => {
      chat ??= c;
      listen(c);
    });
    await runtime.register();
    return { registered: true };
  },
  /**
   * Calls the peer as the web demo's page does (cli/web/call.ts): an RTCPeerConnection with the
   * fake camera and microphone and a data channel, its offer, answer and trickled candidates
   * through the conversation's stub. Resolves once the peer connection is connected and the
   * channel echoed its pings, with their round-trip time.
   */
  async call() {
    const placed = PageCall.place((body) => chat!.post(body), videos());
    calling = placed;
    await placed.ready;
    await placed.connected;
    return { connected: true, rttMs: await placed.rttMs(), remoteTracks: placed.remoteTracks() };
  },
  /** The answering side's call: settles `connected` once its peer connection is. */
  answered: undefined as Promise<string> | undefined,
  /** Writes `value` at `key` in the database's `packages` store, as any script of the page's origin may. */
  async plant(database: string, key: string, value: string) {
    const db = openDatabase(database, ['trust', 'packages']);
    await new IdbStore(db, 'packages').set(key, value);
    (await db).close();
  },
  async send(text: string) {
    return (await chat!.send(text)).body;
  },
  next(): Promise<Browser.Incoming> {
    const m = received.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
  },
};

/** A browser runtime for `settings`, its tokens issued for the test by the page's server. */
async function start(settings: Settings): Promise<Browser.Runtime> {
  // A module specifier the bundler leaves alone: the built package, as an app would load it.
  const lib = (await import(`${location.origin}/browser.js`)) as typeof Browser;
  const who = encodeURIComponent(settings.address);
  const { runtime: started } = lib.createBrowserRuntime({
    identity: settings.password
      ? { address: settings.address, password: settings.password }
      : {
          address: settings.address,
          token: async (audience) =>
            (await fetch(`/token?address=${who}&audience=${encodeURIComponent(audience)}`)).text(),
        },
    workerUrl: new URL(settings.worker ?? '/browser-worker.js', location.origin),
    catalogues: settings.catalogues,
    policy: 'development',
    database: settings.database,
    ...(settings.updates ? { updates: settings.updates } : {}),
  });
  started.on('version', (e) => {
    versions.push({ change: e.change, peer: e.peer, version: e.carrier.version, error: e.error?.message });
    if (e.change !== 'start' && e.peer !== undefined) onSwap?.();
  });
  started.on('update', (e) => {
    updates.push({ domain: e.domain, policy: e.policy, carrier: e.carrier, error: e.error?.code });
    onUpdate?.();
  });
  return started;
}

/** Messages of `c`: an offer answered, the rest of a call's signaling to the call, the rest to {@link pf.next}. */
function listen(c: Browser.Conversation): void {
  c.on('message', (m) => {
    const { body } = m;
    if (body.kind === 'offer') {
      const answering = PageCall.answer(body, (b) => c.post(b), videos());
      calling = answering;
      pf.answered = answering.ready.then(() => answering.connected).then(() => 'connected');
      return;
    }
    if (SIGNALING.has(body.kind)) return void calling?.signal(body);
    const w = waiting.shift();
    if (w) w(m);
    else received.push(m);
  });
}

/** Where a call shows its media: two video elements of the page. */
function videos(): CallVideos {
  const video = () =>
    Object.assign(document.body.appendChild(document.createElement('video')), { muted: true });
  return { local: video(), remote: video() };
}

(globalThis as unknown as { pf: typeof pf }).pf = pf;
document.body.dataset.ready = 'yes';
