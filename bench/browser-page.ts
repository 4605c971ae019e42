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

/**
 * A runtime with tokens from the page's server, keeping what it verified in the IndexedDB
 * database `database`, or nothing across loads.
 */
function runtime(
  settings: Settings,
  host?: SandboxHost,
  database: string | false = false,
): Browser.BrowserRuntime {
  const who = encodeURIComponent(settings.address);
  return lib.createBrowserRuntime({
    identity: {
      address: settings.address,
      token: async (audience) => {
        const t0 = performance.now();
        const token = await (
          await fetch(`/token?address=${who}&audience=${encodeURIComponent(audience)}`)
        ).text();
        mark('token', t0);
        return token;
      },
    },
    workerUrl,
    catalogues: settings.catalogues,
    policy: 'development',
    database,
    ...(host ? { host } : {}),
    onCheck: (e: { check: string }) => mark(e.check),
  });
}

/**
 * One cold load's timeline: ms from its start to each step's end, in the order they happen.
 * Steps: the loader's checks (`descriptor` fetched, `schema`, `domain`, `signature` with the
 * domain's keys fetched on first use, `policy`, `engine`, `downgrade`, `package` fetched or
 * read, `integrity`), the fetches the loader makes (`keys fetched`), the identity's `token`
 * (from when it was asked), the host's `sandbox` (into a worker, evaluated, activated; from
 * when it was asked), the stub's `socket open` and `live` (authenticated, the conversation open).
 */
type Timeline = Record<string, number>;

/** Cold loads: each one's timeline, and the spare's start and SES lockdown before it (ms). */
interface ColdLoads {
  loads: Timeline[];
  spare: number[];
}

/** The load being timed, if any: where the page's instruments write. */
let timing: { t0: number; at: Timeline } | undefined;
/** Records `step` of the load being timed, once (a later look at the catalogue checks again). */
function mark(step: string, t0?: number): void {
  if (!timing || step in timing.at) return;
  const now = performance.now() - timing.t0;
  timing.at[step] = now;
  if (t0 !== undefined) timing.at[`${step} asked`] = t0 - timing.t0;
}

// The page's fetches and sockets, instrumented for the breakdown (the library calls both on
// the page's globals when it uses them).
const pageFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const t0 = performance.now();
  const url = String(input);
  if (url.includes('/.well-known/protofly/stub/')) mark('descriptor asked');
  const res = await pageFetch(input, init);
  if (url.includes('/.well-known/protofly/keys')) mark('keys fetched', t0);
  return res;
};
const PageSocket = globalThis.WebSocket;
globalThis.WebSocket = class extends PageSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols);
    mark('socket asked');
    this.addEventListener('open', () => mark('socket open'));
  }
};

/** `host`, timing each instantiation (the sandbox phase: into a worker, evaluated, activated). */
function timed(host: Browser.BrowserWorkerHost): SandboxHost {
  return {
    async instantiate(pkg, ctx) {
      const t0 = performance.now();
      try {
        return await host.instantiate(pkg, ctx);
      } finally {
        mark('sandbox', t0);
      }
    },
    prepare: (pkg) => host.prepare(pkg),
    unload: (pkg) => host.unload(pkg),
    ready: () => host.ready(),
    terminate: () => host.terminate(),
  };
}

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
}

let open: { rt: Browser.BrowserRuntime; chat: Browser.Conversation } | undefined;
let plain: { ws: WebSocket; onReply: () => void } | undefined;

const bench = {
  /**
   * `n` cold loads of the peer's stub, each by a new runtime that asks the peer's catalogue for
   * the descriptor, verifies it, starts the stub and waits for it live (connected and
   * authenticated to its node), each with its {@link Timeline}. `first`: nothing stored (the
   * domain's keys and the package fetched too), each on a new host whose warm spare worker is up
   * (`spare`: its start and SES lockdown, before the load), as a page's first visit; `reload`:
   * the same with the domain's key, the version seen and the verified package in IndexedDB from
   * an earlier load, as a page's later visits; `running`: nothing stored, on one host whose
   * worker for the domain runs already.
   */
  async cold(settings: Settings, n: number, mode: 'first' | 'reload' | 'running'): Promise<ColdLoads> {
    const shared =
      mode === 'running' ? new lib.BrowserWorkerHost({ workerUrl, policy: 'development' }) : undefined;
    const database = mode === 'reload' ? `bench-${Math.random()}` : false;
    if (database) {
      const filling = runtime(settings, undefined, database);
      await filling.runtime.conversation(settings.peer);
      await filling.close();
    }
    const r: ColdLoads = { loads: [], spare: [] };
    for (let i = 0; i < n; i++) {
      const host = shared ?? new lib.BrowserWorkerHost({ workerUrl, policy: 'development' });
      const up = performance.now();
      await host.ready();
      if (!shared) r.spare.push(performance.now() - up);
      timing = { t0: performance.now(), at: {} };
      const started = runtime(settings, timed(host), database);
      await started.runtime.conversation(settings.peer);
      mark('live');
      r.loads.push(timing.at);
      timing = undefined;
      await started.close();
      if (!shared) await host.terminate();
    }
    await shared?.terminate();
    if (database) await deleteDatabase(database);
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
