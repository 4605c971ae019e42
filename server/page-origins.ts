import type { IncomingMessage } from 'node:http';
import { ProtoflyError } from '../core/errors.js';

/**
 * Which web pages may use one of a domain's services from a browser, named by their origin
 * (RFC 6454): the domain config's `browsers` lists.
 *
 * A browser sends `Origin` on every cross-origin fetch, on every POST, and on every WebSocket
 * handshake (Fetch §3.1, RFC 6455 §4.1); a client that is not a browser (a Node runtime, a
 * server, curl) sends none. A missing Origin is therefore no page, and is admitted: such a
 * client could send whatever Origin it liked, so the header authenticates nobody (tokens do).
 * What the list keeps out is pages of other sites using the service through their visitors'
 * browsers (and from their addresses, past per-address limits). `Origin: null` (a sandboxed
 * frame, a `file:` page) is a page of no origin: never allowed.
 */
export class PageOrigins {
  readonly #any: boolean;
  readonly #allowed: ReadonlySet<string>;
  readonly #service: string;

  /**
   * @param origins - `scheme://host[:port]` each, or `*` for any page.
   * @param service - what the refusal names (`the token endpoint of a.example`).
   * @throws ProtoflyError `PF_ERR_CONFIG` naming an entry that is not an origin.
   */
  constructor(origins: readonly string[], service: string) {
    this.#service = service;
    this.#any = origins.includes('*');
    // The form browsers send: lower-case host, no default port.
    this.#allowed = new Set(origins.filter((o) => o !== '*').map(originOf));
  }

  /** Whether a request with this `Origin` header (undefined: none, not a page) may be served. */
  allows(origin: string | undefined): boolean {
    if (origin === undefined) return true;
    if (origin === 'null') return false;
    return this.#any || this.#allowed.has(origin);
  }

  /** The refusal of a page of `origin`. */
  refusal(origin: string): ProtoflyError {
    return new ProtoflyError(
      'PF_ERR_ORIGIN',
      `pages of ${origin} may not use ${this.#service} (not in the domain config's browsers origins)`,
      { origin },
    );
  }
}

/** Whether `req` is a CORS preflight (Fetch §3.2.2: OPTIONS with `Access-Control-Request-Method`). */
export function isPreflight(req: IncomingMessage): boolean {
  return req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
}

/** How long a browser may keep a preflight's answer, in seconds (Chromium keeps at most 7200). */
export const PREFLIGHT_MAX_AGE = '7200';

/**
 * `origin` as browsers send it (lower-case host, no default port).
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when it is not an origin.
 */
export function originOf(origin: string): string {
  let url: URL | undefined;
  try {
    url = new URL(origin);
  } catch {
    // Refused below.
  }
  const bare = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
  if (!url || !bare || url.origin === 'null') {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `browsers: '${origin}' is not an origin (scheme://host[:port], no path)`,
      { origin },
    );
  }
  return url.origin;
}
