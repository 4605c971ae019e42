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
}

const violations: string[] = [];
document.addEventListener('securitypolicyviolation', (e) =>
  violations.push(`${e.violatedDirective} ${e.blockedURI}`),
);

const received: Browser.Incoming[] = [];
const waiting: ((m: Browser.Incoming) => void)[] = [];
let runtime: Browser.Runtime | undefined;
let chat: Browser.Conversation | undefined;

/** A refusal as plain data for the test: its code and message. */
const coded = (err: unknown) => ({ code: (err as { code?: string }).code, message: (err as Error).message });

const pf = {
  violations,
  /** Creates the runtime and opens a conversation with `peer`; the carrier, or the refusal. */
  async open(settings: Settings, peer: string) {
    // A module specifier the bundler leaves alone: the built package, as an app would load it.
    const lib = (await import(`${location.origin}/browser.js`)) as typeof Browser;
    const made = lib.createBrowserRuntime({
      identity: {
        address: settings.address,
        token: async (audience) => (await fetch(`/token?audience=${encodeURIComponent(audience)}`)).text(),
      },
      workerUrl: new URL(settings.worker ?? '/browser-worker.js', location.origin),
      catalogues: settings.catalogues,
      policy: 'development',
      database: settings.database,
    });
    runtime = made.runtime;
    try {
      chat = await runtime.conversation(peer);
    } catch (err) {
      return { refused: coded(err) };
    }
    chat.on('message', (m) => {
      const w = waiting.shift();
      if (w) w(m);
      else received.push(m);
    });
    return { carrier: chat.carrier, status: chat.status };
  },
  async send(text: string) {
    return (await chat!.send(text)).body;
  },
  next(): Promise<Browser.Incoming> {
    const m = received.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => waiting.push(resolve));
  },
};
(globalThis as unknown as { pf: typeof pf }).pf = pf;
document.body.dataset.ready = 'yes';
