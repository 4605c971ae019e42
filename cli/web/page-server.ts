import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../node/package-root.js';
import type { PageSettings } from './page.js';

/**
 * One user's page origin in the web demo: a static page, its script (dist/demo-page.js), the
 * built protofly/browser and its sandbox worker, the page's settings, and tokens of the user's
 * home domain. It listens before the domains start (their config lists its origin among the
 * pages their nodes serve) and serves once {@link PageServer.serve} said what.
 */
export interface PageServer {
  /** `http://127.0.0.1:<port>`: loopback is a secure context, which WebCrypto's Ed25519 and the camera need. */
  readonly origin: string;
  serve(page: ServedPage): void;
  close(): Promise<void>;
}

export interface ServedPage {
  readonly settings: PageSettings;
  /** A token of the page's user for `audience`, from the user's home domain. */
  token(audience: string): Promise<string>;
  /** The catalogue and node origins the page may connect to (its policy's `connect-src`). */
  readonly connect: readonly string[];
}

/** The built scripts a page server hands out, read once for both pages. */
export type PageFiles = Readonly<Record<'page' | 'browser' | 'worker', Buffer>>;

/** Reads the built page script, runtime and worker from dist/ (`npm run build`). */
export async function readPageFiles(): Promise<PageFiles> {
  const dist = join(packageRoot(import.meta.url), 'dist');
  const [page, browser, worker] = await Promise.all(
    ['demo-page.js', 'browser.js', 'browser-worker.js'].map((f) => readFile(join(dist, f))),
  );
  return { page: page!, browser: browser!, worker: worker! };
}

/**
 * The sandbox worker's own policy (a dedicated worker's is its script's response's): SES
 * evaluates each stub in a compartment, which takes `'unsafe-eval'`, there and only there.
 */
const WORKER_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'";

const HTML = `<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>protofly web demo</title>
<link rel="stylesheet" href="/page.css">
<body data-state="starting">
<header><h1 id="who">protofly</h1><p id="status">starting</p></header>
<main>
<section><h2>Stub</h2><p id="stub"></p><h3>Verification</h3><ol id="checks"></ol></section>
<section><h2>Chat</h2><ol id="log"></ol>
<form id="say"><input id="text" autocomplete="off" placeholder="a message"><button id="send" disabled>Send</button></form></section>
<section><h2>Call</h2>
<p><button id="dial" disabled>Call</button> <button id="hangup" disabled>Hang up</button> <span id="call-state"></span></p>
<p id="rtt"></p>
<video id="local" muted autoplay playsinline></video><video id="remote" autoplay playsinline></video></section>
<section class="wide"><h2>Signaling</h2><svg id="ladder" xmlns="http://www.w3.org/2000/svg"></svg></section>
</main>
<script type="module" src="/page.js"></script>
`;

const CSS = `body { font: 14px system-ui, sans-serif; margin: 1em 2em; color: #222; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 1em; }
section { border: 1px solid #ccc; border-radius: 6px; padding: 0 1em 1em; }
section.wide { grid-column: 1 / -1; overflow-x: auto; }
#status { font-weight: bold; }
body[data-state="failed"] #status { color: #b00; }
#checks li, #stub { font-family: ui-monospace, monospace; font-size: 12px; word-break: break-all; }
video { width: 160px; height: 120px; background: #000; margin-right: 8px; }
#ladder { color: #246; }
#ladder .head { font-weight: bold; }
#ladder .lifeline { stroke: #999; stroke-dasharray: 4 3; }
#ladder .rung line { stroke: currentColor; }
#ladder text { font: 11px ui-monospace, monospace; fill: #222; }
#ladder .note text { font-style: italic; fill: #360; }
`;

/** Starts a page server on a free loopback port. */
export async function startPageServer(files: PageFiles): Promise<PageServer> {
  let page: ServedPage | undefined;
  const server = createServer((req, res) => handle(req, res, files, page));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    serve(p) {
      page = p;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  files: PageFiles,
  page: ServedPage | undefined,
): void {
  if (!page) {
    res.writeHead(503, { 'retry-after': '1' }).end('the demo is starting');
    return;
  }
  // The page runs only its own origin's scripts, no eval, no inline script; it talks to its
  // origin, the domains' catalogues and their nodes.
  const csp = `default-src 'self'; script-src 'self'; connect-src 'self' ${page.connect.join(' ')}; worker-src 'self'`;
  const url = new URL(req.url ?? '/', 'http://page');
  const send = (type: string, body: string | Buffer, policy = csp) => {
    res.writeHead(200, {
      'content-type': `${type}; charset=utf-8`,
      'content-security-policy': policy,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    });
    res.end(body);
  };
  switch (url.pathname) {
    case '/':
      return send('text/html', HTML);
    case '/page.css':
      return send('text/css', CSS);
    case '/page.js':
      return send('text/javascript', files.page);
    case '/browser.js':
      return send('text/javascript', files.browser);
    case '/browser-worker.js':
      return send('text/javascript', files.worker, WORKER_CSP);
    case '/demo.json':
      return send('application/json', JSON.stringify(page.settings));
    case '/token': {
      const audience = url.searchParams.get('audience');
      if (!audience) {
        res.writeHead(400).end('audience is required');
        return;
      }
      page.token(audience).then(
        (token) => send('text/plain', token),
        (err: Error) => res.writeHead(403).end(err.message),
      );
      return;
    }
    default:
      // The browser asks for /favicon.ico: an answer without a body, not a 404 in the console.
      res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
  }
}
