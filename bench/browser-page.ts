/**
 * The page bench/browser-page.bench.ts measures in (served as /bench-page.js, a module, under
 * the strict page policy): `protofly/browser` as an app loads it (/browser.js), and a plain
 * WebSocket for the baseline. Times are taken in the page (`performance.now()`), so the
 * test's driving of the page is not in them.
 */
import type * as Browser from '../entry/browser.js';
import type { SandboxHost } from '../sandbox/host.js';

interface Settings {
  readonly address: string;
  readonly peer: string;
  readonly catalogues: Record<string, string>;
}

/** The built package, loaded once: what a page has after its first load. */
const lib = (await import(`${location.origin}/browser.js`)) as typeof Browser;
const workerUrl = new URL('/browser-worker.js', location.origin);
const CHAT = 'hello bob, a chat message';

/** A runtime keeping nothing across loads (no IndexedDB), tokens from the page's server. */
function runtime(
  settings: Settings,
  host?: SandboxHost,
  onCheck?: (check: string) => void,
): Browser.BrowserRuntime {
  const who = encodeURIComponent(settings.address);
  return lib.createBrowserRuntime({
    identity: {
      address: settings.address,
      token: async (audience) =>
        (await fetch(`/token?address=${who}&audience=${encodeURIComponent(audience)}`)).text(),
    },
    workerUrl,
    catalogues: settings.catalogues,
    policy: 'development',
    database: false,
    ...(host ? { host } : {}),
    ...(onCheck ? { onCheck: (e: { check: string }) => onCheck(e.check) } : {}),
  });
}

/** A cold load's figures, in ms each: see `bench.cold`. */
interface ColdLoads {
  live: number[];
  descriptor: number[];
  verified: number[];
  sandbox: number[];
  connect: number[];
  spare: number[];
}

/** `host`, timing each instantiation (the sandbox phase: into a worker, evaluated, activated). */
function timed(host: Browser.BrowserWorkerHost, took: number[]): SandboxHost {
  return {
    async instantiate(pkg, ctx) {
      const t0 = performance.now();
      try {
        return await host.instantiate(pkg, ctx);
      } finally {
        took.push(performance.now() - t0);
      }
    },
    unload: (pkg) => host.unload(pkg),
    ready: () => host.ready(),
    terminate: () => host.terminate(),
  };
}

let open: { rt: Browser.BrowserRuntime; chat: Browser.Conversation } | undefined;
let plain: { ws: WebSocket; onReply: () => void } | undefined;

const bench = {
  /**
   * `n` cold loads of the peer's stub: a new runtime with nothing stored asks the peer's
   * catalogue for the descriptor and package, verifies them, starts the stub and waits for it
   * live (connected and authenticated to its node). Phases, from the start: `descriptor`
   * fetched, `verified` (the package fetched and its integrity checked, the loader's last
   * check); `sandbox`, the host's instantiation (into a worker, evaluated in a compartment,
   * activated); `connect`, from there to live (token, WebSocket, authentication). Without
   * `warm`, each load has a new host whose warm spare worker is up (`spare`: its start and SES
   * lockdown, before the load); with `warm`, one host whose worker for the domain runs already.
   */
  async cold(settings: Settings, n: number, warm: boolean): Promise<ColdLoads> {
    const shared = warm ? new lib.BrowserWorkerHost({ workerUrl, policy: 'development' }) : undefined;
    const r: ColdLoads = { live: [], descriptor: [], verified: [], sandbox: [], connect: [], spare: [] };
    for (let i = 0; i < n; i++) {
      const host = shared ?? new lib.BrowserWorkerHost({ workerUrl, policy: 'development' });
      const up = performance.now();
      await host.ready();
      if (!shared) r.spare.push(performance.now() - up);
      const t0 = performance.now();
      const started = runtime(settings, timed(host, r.sandbox), (check) => {
        // The load's own checks only: a later look at the catalogue (the update watch) checks again.
        const at = performance.now() - t0;
        if (check === 'descriptor' && r.descriptor.length === r.live.length) r.descriptor.push(at);
        if (check === 'integrity' && r.verified.length === r.live.length) r.verified.push(at);
      });
      await started.runtime.conversation(settings.peer);
      const live = performance.now() - t0;
      r.live.push(live);
      r.connect.push(live - r.verified.at(-1)! - r.sandbox.at(-1)!);
      await started.close();
      if (!shared) await host.terminate();
    }
    await shared?.terminate();
    return r;
  },
  /** Opens the conversation the round trips go through. */
  async open(settings: Settings): Promise<void> {
    const rt = runtime(settings);
    open = { rt, chat: await rt.runtime.conversation(settings.peer) };
  },
  /** `n` chats one after another through the stub, each until its 200 from the peer; µs each. */
  async chats(n: number): Promise<number[]> {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const res = await open!.chat.send(CHAT);
      if (res.body.code !== 200) throw new Error(`a chat got ${res.body.code}`);
      samples.push((performance.now() - t0) * 1000);
    }
    return samples;
  },
  /** Connects to the plain hub at `url` as `address`. */
  async connectPlain(url: string, address: string): Promise<void> {
    const ws = new WebSocket(url);
    plain = { ws, onReply: () => {} };
    await new Promise<void>((resolve, reject) => {
      ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
      ws.onopen = () => ws.send(JSON.stringify({ t: 'hello', address }));
      ws.onmessage = (e) => {
        if (JSON.parse(String(e.data)).t === 'ready') resolve();
      };
    });
    ws.onmessage = () => plain!.onReply();
  },
  /** The baseline: `n` chats through the plain hub, each until the peer's answer; µs each. */
  async plainChats(from: string, to: string, n: number): Promise<number[]> {
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await new Promise<void>((resolve) => {
        plain!.onReply = resolve;
        const m = { id: `p${i}`, type: 'create', from, to, body: { value: { kind: 'chat', text: CHAT } } };
        plain!.ws.send(JSON.stringify({ t: 'msg', m }));
      });
      samples.push((performance.now() - t0) * 1000);
    }
    return samples;
  },
  async close(): Promise<void> {
    plain?.ws.close();
    await open?.rt.close();
  },
};

(globalThis as unknown as { bench: typeof bench }).bench = bench;
document.body.dataset.ready = 'yes';
