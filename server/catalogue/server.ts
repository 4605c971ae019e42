import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { pino } from 'pino';
import semver from 'semver';
import { asProtoflyError, ProtoflyError } from '../../core/errors.js';
import { ifPresent } from '../../node/files.js';
import {
  AUTHORIZATION_SERVER_PATH,
  EVENTS_PATH,
  KEYS_PATH,
  type PluginKind,
} from '../../runtime/catalogue.js';
import { isPreflight, PREFLIGHT_MAX_AGE } from '../page-origins.js';
import { CatalogueChanges } from './changes.js';
import { EventStream } from './events.js';
import { layout } from './layout.js';

/**
 * The catalogue server: serves a catalogue directory (see layout.ts) over HTTP or HTTPS.
 *
 * - `GET /.well-known/protofly/<stub|backend>/<name>[?version=<range>]`: newest matching descriptor
 * - `GET /.well-known/protofly/<stub|backend>/<name>/versions`: every version, newest first
 * - `GET /.well-known/protofly/keys`: the domain's JWKS
 * - `GET /.well-known/oauth-authorization-server`: where the domain's token endpoint is (RFC 8414)
 * - `GET /.well-known/protofly/events`: Server-Sent Events, one `publish` event per version
 *   published into the directory while the server runs (see events.ts)
 * - `GET /packages/<sha384-hex>.js` (and `.js.map`): immutable, strong ETag
 *
 * Every answer is readable by pages of any origin (CORS `*`, see {@link PUBLIC_CORS}); `OPTIONS`
 * answers a preflight. Errors are JSON `{ error: { code, message } }` with their code's status (core/errors.ts). A
 * failure of the server itself (an unreadable file, a bug) is a 500 whose cause is logged, not
 * sent. Slow or abusive clients are bounded by header and request time-outs, a header size limit
 * and a connection cap.
 */
export interface CatalogueServerOptions {
  readonly dir: string;
  /** PEM certificate and key: serve HTTPS. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** Seconds a runtime may reuse a descriptor before asking again. Default 10. */
  readonly descriptorMaxAge?: number;
  readonly maxConnections?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly maxHeaderBytes?: number;
  /** How often the directory is scanned for new versions, besides watching it, in ms. Default 250. */
  readonly scanMs?: number;
  /** Subscribers of the update stream at most. Default 256. */
  readonly maxSubscribers?: number;
  /** Comment lines on a quiet update stream this often, in ms. Default 15000. */
  readonly heartbeatMs?: number;
  /** Where failures are logged. Default: pino, named `catalogue`. */
  readonly log?: Logger;
  /**
   * Count prerelease versions (`0.1.0-dev.3`) as versions a range matches, the newest first: a
   * development catalogue's (`protofly dev`). Default false: a domain's prereleases are served
   * only when asked for by a range that names one.
   */
  readonly prereleases?: boolean;
}

export interface CatalogueServer {
  readonly server: Server;
  /** Listens; resolves to the base URL. */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * CORS on every answer, for pages of any origin. A catalogue's documents are public and
 * signed: whoever fetches them outside a browser gets the same bytes, so an origin list would
 * keep nothing secret, and the runtime in a page of any site must load any domain's stubs
 * (signaling on the fly). `*` also means no credentials: a browser sends no cookies with these
 * requests and would refuse to share an answer to one that had them. The same answer for every
 * origin: no `Vary: Origin`. The ETag is exposed for the runtime's conditional GETs.
 */
const PUBLIC_CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'etag',
} as const;
/** Methods the catalogue takes. */
const METHODS = 'GET, HEAD';

const NAME = /^[a-z][a-z0-9-]{0,63}$/;
const PLUGIN_PATH = /^\/\.well-known\/protofly\/(stub|backend)\/([^/]+)(\/versions)?$/;
const PACKAGE_PATH = /^\/packages\/([0-9a-f]{96})\.js(\.map)?$/;
/** Immutable files kept in memory, bytes at most. */
const FILE_CACHE_BYTES = 64 * 1024 * 1024;
/**
 * A file changed this recently is read again each time: a second write within the file
 * system's timestamp granularity could leave its stat as it was (git's "racily clean").
 */
const RACY_MS = 2000;

interface Body {
  readonly bytes: Buffer;
  readonly etag: string;
}

/** A small file that may change (keys, aliases, metadata), with the stat it was read at. */
interface Kept {
  readonly body: Body;
  readonly stamp: string;
}

export function createCatalogueServer(options: CatalogueServerOptions): CatalogueServer {
  const { dir } = options;
  const log = options.log ?? pino({ name: 'catalogue' });
  const maxAge = options.descriptorMaxAge ?? 10;
  const prereleases = options.prereleases ?? false;
  // Descriptors of a version and packages never change once written: read each once.
  const immutable = new Map<string, Body>();
  let cachedBytes = 0;
  const maxSubscribers = options.maxSubscribers ?? 256;
  const events = new EventStream({ heartbeatMs: options.heartbeatMs ?? 15_000, maxSubscribers });
  const changes = new CatalogueChanges(dir, (notice) => events.publish(notice), options.scanMs ?? 250);

  async function readImmutable(file: string, etag?: string): Promise<Body | undefined> {
    const hit = immutable.get(file);
    if (hit) return hit;
    const bytes = await ifPresent(readFile(file), file);
    if (!bytes) return undefined;
    const body = { bytes, etag: etag ?? etagOf(bytes) };
    if (cachedBytes + bytes.byteLength <= FILE_CACHE_BYTES) {
      immutable.set(file, body);
      cachedBytes += bytes.byteLength;
    }
    return body;
  }

  // The keys, the aliases and the token endpoint's metadata are read on every descriptor or
  // keys request: a stat tells whether what was read last is still what is there, one file
  // system call where reading is four or five (measured: 3.9 ms p50 for aliases.json's read
  // under the browser bench, against 0.4 ms for a readdir).
  const kept = new Map<string, Kept>();
  async function readMutable(file: string): Promise<Body | undefined> {
    const st = await ifPresent(stat(file, { bigint: true }), file);
    if (!st) {
      kept.delete(file);
      return undefined;
    }
    const stamp = `${st.dev} ${st.ino} ${st.size} ${st.mtimeNs} ${st.ctimeNs}`;
    const hit = kept.get(file);
    if (hit?.stamp === stamp) return hit.body;
    kept.delete(file);
    const bytes = await ifPresent(readFile(file), file);
    if (!bytes) return undefined;
    const body = { bytes, etag: etagOf(bytes) };
    if (Date.now() - Number(st.ctimeNs / 1_000_000n) > RACY_MS) kept.set(file, { body, stamp });
    return body;
  }

  async function versions(kind: PluginKind, name: string): Promise<string[]> {
    const folder = layout.plugin(dir, kind, name);
    const files = (await ifPresent(readdir(folder), folder, 'list')) ?? [];
    return files
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length))
      .filter((v) => semver.valid(v))
      .sort(semver.rcompare);
  }

  async function resolveName(kind: PluginKind, name: string): Promise<string> {
    if (name !== 'default') return name;
    const aliases = JSON.parse((await readMutable(layout.aliases(dir)))?.bytes.toString('utf8') ?? '{}');
    const target = aliases[`${kind}/default`];
    if (typeof target !== 'string')
      throw new ProtoflyError('PF_ERR_NOT_FOUND', `this catalogue has no default ${kind}`);
    return target;
  }

  async function plugin(
    res: ServerResponse,
    req: IncomingMessage,
    url: URL,
    match: RegExpExecArray,
  ): Promise<void> {
    const kind = match[1] as PluginKind;
    const asked = decodeURIComponent(match[2]!);
    if (asked !== 'default' && !NAME.test(asked)) {
      throw new ProtoflyError(
        'PF_ERR_SCHEMA',
        `'${asked}' is not a ${kind} name (lower case, digits, dashes)`,
      );
    }
    const name = await resolveName(kind, asked);
    const all = await versions(kind, name);
    if (all.length === 0) throw new ProtoflyError('PF_ERR_NOT_FOUND', `no ${kind} named '${asked}'`);
    if (match[3])
      return send(
        res,
        req,
        200,
        json({ kind, name, versions: all }),
        'application/json',
        `public, max-age=${maxAge}`,
      );
    const range = url.searchParams.get('version') ?? '*';
    if (semver.validRange(range) === null) {
      throw new ProtoflyError('PF_ERR_SCHEMA', `version '${range}' is not a semver range`);
    }
    const version = semver.maxSatisfying(all, range, { includePrerelease: prereleases }) ?? undefined;
    if (!version)
      throw new ProtoflyError('PF_ERR_NOT_FOUND', `no version of ${kind} '${name}' satisfies ${range}`);
    const body = await readImmutable(layout.descriptor(dir, kind, name, version));
    if (!body) throw new ProtoflyError('PF_ERR_NOT_FOUND', `${kind} '${name}' ${version} vanished`);
    return send(res, req, 200, body, 'application/json', `public, max-age=${maxAge}`);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') return preflight(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', `${METHODS}, OPTIONS`);
      throw new ProtoflyError(
        'PF_ERR_METHOD',
        `method ${req.method} is not allowed; the catalogue is read-only`,
      );
    }
    const url = new URL(req.url ?? '/', 'http://catalogue');
    if (url.pathname === EVENTS_PATH) {
      if (events.subscribe(req, res)) return;
      throw new ProtoflyError(
        'PF_ERR_BUSY',
        `the update stream is at its ${maxSubscribers} subscribers; poll`,
      );
    }
    if (url.pathname === KEYS_PATH) {
      const body = await readMutable(layout.keys(dir));
      if (!body) throw new ProtoflyError('PF_ERR_NOT_FOUND', 'this catalogue publishes no keys yet');
      return send(res, req, 200, body, 'application/jwk-set+json', 'public, max-age=300');
    }
    if (url.pathname === AUTHORIZATION_SERVER_PATH) {
      const body = await readMutable(layout.authorizationServer(dir));
      if (!body) throw new ProtoflyError('PF_ERR_NOT_FOUND', 'this domain advertises no token endpoint');
      return send(res, req, 200, body, 'application/json', 'public, max-age=60');
    }
    const pluginMatch = PLUGIN_PATH.exec(url.pathname);
    if (pluginMatch) return plugin(res, req, url, pluginMatch);
    const pkg = PACKAGE_PATH.exec(url.pathname);
    if (pkg) {
      const hex = pkg[1]!;
      const file = layout.package(dir, hex) + (pkg[2] ?? '');
      const body = await readImmutable(file, `"${hex}${pkg[2] ? '.map' : ''}"`);
      if (!body) throw new ProtoflyError('PF_ERR_NOT_FOUND', `no package ${hex}`);
      if (!pkg[2]) res.setHeader('sourcemap', `${hex}.js.map`);
      const type = pkg[2] ? 'application/json' : 'text/javascript; charset=utf-8';
      return send(res, req, 200, body, type, 'public, max-age=31536000, immutable');
    }
    throw new ProtoflyError('PF_ERR_NOT_FOUND', `nothing at ${url.pathname}`);
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    route(req, res).catch((err: unknown) => {
      const e = asProtoflyError(err, 'PF_ERR_INTERNAL');
      const { code, status } = e;
      // The server's own failure (500): its cause is for the log, not for whoever asked.
      const failed = status === 500;
      if (failed) log.error({ err, method: req.method, url: req.url }, 'catalogue request failed');
      const message = failed ? `${code}: the catalogue failed on this request; its log has why` : e.message;
      if (!res.headersSent)
        send(res, req, status, json({ error: { code, message } }), 'application/json', 'no-store');
      else res.destroy();
    });
  };

  // Node checks header and request time-outs every connectionsCheckingInterval (30 s by default).
  const serverOptions = { maxHeaderSize: options.maxHeaderBytes ?? 8192, connectionsCheckingInterval: 1000 };
  const server = options.tls
    ? createHttpsServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, handler)
    : createHttpServer(serverOptions, handler);
  server.headersTimeout = options.headersTimeoutMs ?? 5000;
  server.requestTimeout = options.requestTimeoutMs ?? 10_000;
  server.keepAliveTimeout = 5000;
  server.maxConnections = options.maxConnections ?? 1024;

  return {
    server,
    async listen(port = 0, host = '127.0.0.1') {
      await changes.start();
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const { address, port: bound } = server.address() as AddressInfo;
          const h = address.includes(':') ? `[${address}]` : address;
          resolve(`${options.tls ? 'https' : 'http'}://${h}:${bound}`);
        });
      });
    },
    close() {
      changes.close();
      events.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function json(value: unknown): Body {
  const bytes = Buffer.from(`${JSON.stringify(value)}\n`);
  return { bytes, etag: etagOf(bytes) };
}

function etagOf(bytes: Buffer): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

function send(
  res: ServerResponse,
  req: IncomingMessage,
  status: number,
  body: Body,
  type: string,
  cache: string,
): void {
  res.setHeader('content-type', type);
  res.setHeader('cache-control', cache);
  res.setHeader('etag', body.etag);
  res.setHeader('x-content-type-options', 'nosniff');
  for (const [name, value] of Object.entries(PUBLIC_CORS)) res.setHeader(name, value);
  if (status === 200 && req.headers['if-none-match'] === body.etag) {
    res.statusCode = 304;
    res.end();
    return;
  }
  res.statusCode = status;
  res.setHeader('content-length', body.bytes.byteLength);
  res.end(req.method === 'HEAD' ? undefined : body.bytes);
}

/**
 * `OPTIONS`: a CORS preflight (Fetch §3.2.2) gets 204 with what any origin may send: GET and
 * HEAD, and `If-None-Match` (a runtime's conditional GET, the one header it sends that is not
 * CORS-safelisted). A browser refuses by itself what this does not list. A plain `OPTIONS` gets
 * the methods (RFC 9110 §9.3.7).
 */
function preflight(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('allow', `${METHODS}, OPTIONS`);
  if (isPreflight(req)) {
    res.setHeader('access-control-allow-origin', PUBLIC_CORS['access-control-allow-origin']);
    res.setHeader('access-control-allow-methods', METHODS);
    res.setHeader('access-control-allow-headers', 'if-none-match');
    res.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE);
  }
  res.statusCode = 204;
  res.end();
}
