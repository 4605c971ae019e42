/**
 * The page the Chromium test loads (served as /page.js, a module, under a strict Content
 * Security Policy): it imports the built `protofly/browser` from /browser.js and gives the test
 * a few calls on `window.pf`. Counts the policy violations the page sees.
 */
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
/** The call's signaling, handed to the peer connection rather than to `next()`. */
const SIGNALING = new Set(['offer', 'answer', 'candidate']);
let onSignal: ((m: Browser.Incoming) => void) | undefined;
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
    answerCalls();
    await runtime.register();
    return { registered: true };
  },
  /**
   * Calls the peer: an RTCPeerConnection with a data channel, its offer, answer and trickled
   * candidates through the conversation's stub. Resolves once ICE connected and the channel
   * echoed a ping, with its round-trip time.
   */
  async call() {
    const pc = new RTCPeerConnection();
    const callId = crypto.randomUUID();
    const channel = pc.createDataChannel('pf');
    let placed = false;
    const early: RTCIceCandidate[] = [];
    const trickle = (c: RTCIceCandidate) =>
      void chat!.candidate(callId, c.candidate, c.sdpMid, c.sdpMLineIndex);
    pc.onicecandidate = (e) => {
      if (!e.candidate) return;
      if (placed) trickle(e.candidate);
      else early.push(e.candidate);
    };
    const remote = peerSignals(pc);
    await pc.setLocalDescription(await pc.createOffer());
    await chat!.call(pc.localDescription!.sdp, ['data'], callId);
    placed = true;
    for (const c of early.splice(0)) trickle(c);
    await remote;
    await new Promise<void>((resolve) => {
      if (channel.readyState === 'open') resolve();
      else channel.onopen = () => resolve();
    });
    const sent = performance.now();
    const echoed = new Promise<number>((resolve) => {
      channel.onmessage = () => resolve(performance.now() - sent);
    });
    channel.send('ping');
    const rttMs = await echoed;
    return { ice: pc.iceConnectionState, rttMs };
  },
  /** The answering side's ICE state once it connected. */
  answered: undefined as Promise<string> | undefined,
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

/** Messages of `c`: signaling to the call, the rest to {@link pf.next}. */
function listen(c: Browser.Conversation): void {
  c.on('message', (m) => {
    if (SIGNALING.has(m.body.kind)) return onSignal?.(m);
    const w = waiting.shift();
    if (w) w(m);
    else received.push(m);
  });
}

/** Applies the peer's answer and candidates to `pc`; resolves once ICE connected. */
function peerSignals(pc: RTCPeerConnection): Promise<void> {
  const pending: RTCIceCandidateInit[] = [];
  onSignal = (m) => {
    const body = m.body as {
      kind: string;
      sdp?: string;
      candidate?: string;
      sdpMid?: string;
      sdpMLineIndex?: number;
    };
    if (body.kind === 'answer') {
      void pc.setRemoteDescription({ type: 'answer', sdp: body.sdp! }).then(() => {
        for (const c of pending.splice(0)) void pc.addIceCandidate(c);
      });
    } else if (body.kind === 'candidate' && body.candidate) {
      const c = {
        candidate: body.candidate,
        sdpMid: body.sdpMid ?? null,
        sdpMLineIndex: body.sdpMLineIndex ?? null,
      };
      if (pc.remoteDescription) void pc.addIceCandidate(c);
      else pending.push(c);
    }
  };
  return connected(pc);
}

/** Resolves once `pc`'s ICE connection is up. */
function connected(pc: RTCPeerConnection): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (pc.iceConnectionState === 'connected' || pc.iceConnectionState === 'completed') resolve();
    };
    pc.oniceconnectionstatechange = check;
    check();
  });
}

/** The answering side: takes an offer, answers it, trickles its candidates, echoes data-channel pings. */
function answerCalls(): void {
  let pc: RTCPeerConnection | undefined;
  const pending: RTCIceCandidateInit[] = [];
  let up: () => void;
  pf.answered = new Promise<string>((resolve) => {
    up = () => resolve(pc!.iceConnectionState);
  });
  onSignal = (m) => {
    const body = m.body as {
      kind: string;
      callId: string;
      sdp?: string;
      candidate?: string;
      sdpMid?: string;
      sdpMLineIndex?: number;
    };
    if (body.kind === 'offer') {
      const peer = new RTCPeerConnection();
      pc = peer;
      peer.ondatachannel = (e) => {
        e.channel.onmessage = (msg) => e.channel.send(msg.data);
      };
      peer.onicecandidate = (e) => {
        if (e.candidate)
          void chat!.candidate(
            body.callId,
            e.candidate.candidate,
            e.candidate.sdpMid,
            e.candidate.sdpMLineIndex,
          );
      };
      void connected(peer).then(() => up());
      void (async () => {
        await peer.setRemoteDescription({ type: 'offer', sdp: body.sdp! });
        for (const c of pending.splice(0)) await peer.addIceCandidate(c);
        await peer.setLocalDescription(await peer.createAnswer());
        await chat!.answer(body.callId, peer.localDescription!.sdp);
      })();
    } else if (body.kind === 'candidate' && body.candidate) {
      const c = {
        candidate: body.candidate,
        sdpMid: body.sdpMid ?? null,
        sdpMLineIndex: body.sdpMLineIndex ?? null,
      };
      if (pc?.remoteDescription) void pc.addIceCandidate(c);
      else pending.push(c);
    }
  };
}

(globalThis as unknown as { pf: typeof pf }).pf = pf;
document.body.dataset.ready = 'yes';
