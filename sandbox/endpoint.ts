import { ProtoflyError } from '../core/errors.js';

/**
 * The endpoint allow-list of a stub descriptor (`constraints.endpoints`): the only places
 * `ctx.connect` may open.
 *
 * A pattern is `ws://` or `wss://`, a host, an optional port (`:*` for any; none for the
 * scheme's default), and a path prefix. A URL matches when, after WHATWG URL parsing, its
 * scheme and host are the pattern's, its port is allowed, and its path is the prefix or lies
 * under it segment-wise: `/chat` allows `/chat` and `/chat/room`, not `/chatter`. URLs with
 * credentials or a fragment never match. The caller must connect to the *returned* URL, the
 * one that was checked, so that no other parser ever reads the stub's raw string.
 */

const PATTERN = /^(wss?):\/\/([a-z0-9.-]+)(?::([0-9]{1,5}|\*))?(\/\S*)$/;
const DEFAULT_PORT: Readonly<Record<string, string>> = { 'ws:': '80', 'wss:': '443' };

interface Endpoint {
  readonly protocol: string;
  readonly host: string;
  /** An exact port, or undefined for any. */
  readonly port: string | undefined;
  readonly prefix: string;
}

/** Checks a URL against compiled patterns; the normalized URL when allowed, else undefined. */
export type EndpointMatcher = (url: string) => string | undefined;

/**
 * Compiles an allow-list once, for many checks.
 *
 * @throws ProtoflyError `PF_ERR_SCHEMA` naming a pattern that is not `ws(s)://host[:port|:*]/path`.
 */
export function compileEndpoints(patterns: readonly string[]): EndpointMatcher {
  const endpoints = patterns.map(parsePattern);
  return (url) => {
    const parsed = parseUrl(url);
    if (!parsed) return undefined;
    const port = parsed.port || DEFAULT_PORT[parsed.protocol];
    const allowed = endpoints.some(
      (e) =>
        e.protocol === parsed.protocol &&
        e.host === parsed.hostname &&
        (e.port === undefined || e.port === port) &&
        underPrefix(parsed.pathname, e.prefix),
    );
    return allowed ? parsed.href : undefined;
  };
}

function parsePattern(pattern: string): Endpoint {
  const m = PATTERN.exec(pattern);
  if (!m) {
    throw new ProtoflyError(
      'PF_ERR_SCHEMA',
      `endpoint pattern '${pattern}' is not ws(s)://host[:port|:*]/path-prefix`,
      { pattern },
    );
  }
  const [, scheme, host, port, prefix] = m as unknown as [string, string, string, string | undefined, string];
  const protocol = `${scheme}:`;
  return {
    protocol,
    host,
    port: port === '*' ? undefined : String(Number(port ?? DEFAULT_PORT[protocol])),
    prefix,
  };
}

function parseUrl(url: string): URL | undefined {
  if (typeof url !== 'string') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.username || parsed.password || parsed.hash || url.includes('#')) return undefined;
  return parsed;
}

function underPrefix(path: string, prefix: string): boolean {
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path[prefix.length] === '/';
}
