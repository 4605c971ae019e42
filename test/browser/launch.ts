/**
 * What every Chromium test and bench here shares: Debian's /usr/bin/chromium (never a browser
 * a tool downloads), how it is started, the policies pages and the sandbox worker are served
 * under, and a server for a page's files.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { build } from 'esbuild';
import { type BrowserContext, chromium } from 'playwright-core';
import { CHROMIUM_ARGS, DEFAULT_CHROMIUM } from '../../cli/web/drive.js';

export const CHROMIUM = DEFAULT_CHROMIUM;

/** What a page is served under: its own scripts only, no eval, no inline script. */
export const PAGE_CSP =
  "default-src 'self'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* http://127.0.0.1:*; worker-src 'self'";
/**
 * The sandbox worker's own policy (a dedicated worker's is its script's response's): SES
 * evaluates each stub in a compartment, which takes `'unsafe-eval'`, there and only there.
 */
export const WORKER_CSP = "default-src 'none'; script-src 'self' 'unsafe-eval'";

/**
 * Chromium, headless, on a persistent profile in `profile` (IndexedDB survives a page).
 *
 * @throws Error when Chromium is missing: the suites fail, never skip (.ci/run installs it).
 */
export function launchChromium(profile: string): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS],
  });
}

/** A file a page loads: its body, content type and Content Security Policy. */
export interface PageFile {
  readonly body: string | Buffer;
  readonly type: string;
  readonly csp: string;
}

/** A page's origin on loopback. */
export interface PageServer {
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves `files` by path on a loopback port of its own; any other path goes to `other`, or gets
 * a 404 (a 204 for the browser's /favicon.ico, which is no error of the page's).
 */
export async function servePages(
  files: Readonly<Record<string, PageFile>>,
  other?: (url: URL, res: ServerResponse, req: IncomingMessage) => void,
): Promise<PageServer> {
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const file = files[url.pathname];
    if (file) {
      res.writeHead(200, {
        'content-type': file.type,
        'content-security-policy': file.csp,
        'cache-control': 'no-store',
      });
      return res.end(file.body);
    }
    if (other) return other(url, res, req);
    res.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/**
 * A test page's script: `entry` (a .ts file) and what it imports, one ES module for the browser.
 * An `import()` of a computed URL (the built package, as an app loads it) stays as it is.
 */
export async function bundlePage(entry: string): Promise<string> {
  const bundled = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    logLevel: 'warning',
  });
  return bundled.outputFiles[0]!.text;
}

/**
 * Serves a test page that runs the browser host: `entry` (a .ts file beside the test) bundled as
 * `/<name>.js` under {@link PAGE_CSP}, loaded by `/`, and the built sandbox worker under
 * {@link WORKER_CSP}.
 */
export async function serveHostPage(entry: string, title: string): Promise<PageServer> {
  const script = `/${basename(entry, '.ts')}.js`;
  return servePages({
    '/': {
      body: `<!doctype html><meta charset="utf-8"><title>${title}</title><body><script type="module" src="${script}"></script>`,
      type: 'text/html; charset=utf-8',
      csp: PAGE_CSP,
    },
    [script]: { body: await bundlePage(entry), type: 'text/javascript', csp: PAGE_CSP },
    '/browser-worker.js': {
      body: await readFile(join(import.meta.dirname, '..', '..', 'dist', 'browser-worker.js')),
      type: 'text/javascript',
      csp: WORKER_CSP,
    },
  });
}
