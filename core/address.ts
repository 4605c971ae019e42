import { ProtoflyError } from './errors.js';

/**
 * Addresses: the one parser and the one formatter.
 *
 * The grammar is the one `schemas/common.schema.json` states as patterns:
 * `user://<domain>/<name>`, `hyperty://<domain>/<id>`, `runtime://<domain>/<id>[/<seg>...]`,
 * `domain://<host>[/<seg>...]`. A domain is a lower-case DNS name (RFC 1123 labels); a
 * segment is RFC 3986 `pchar`s (unreserved, sub-delims, ':' and '@', or a %XX escape).
 */

/** The kinds of address. */
export type Scheme = 'user' | 'hyperty' | 'runtime' | 'domain';

/** An address taken apart. Segments stay as written (percent escapes are not decoded). */
export interface ParsedAddress {
  readonly scheme: Scheme;
  readonly domain: string;
  readonly path: readonly string[];
}

/** How many path segments each scheme takes: [min, max]. */
const ARITY: Readonly<Record<Scheme, readonly [number, number]>> = {
  user: [1, 1],
  hyperty: [1, 1],
  runtime: [1, Number.POSITIVE_INFINITY],
  domain: [0, Number.POSITIVE_INFINITY],
};

export const MAX_ADDRESS_LENGTH = 512;
const DOMAIN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
const SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]|%[0-9A-Fa-f]{2})+$/;

function fail(input: string, why: string): never {
  throw new ProtoflyError('PF_ERR_ADDRESS', `'${input}' ${why}`, { address: input });
}

function isScheme(s: string): s is Scheme {
  return Object.hasOwn(ARITY, s);
}

/** Checks the parts of an address; `input` is only for the error message. */
function check(input: string, scheme: string, domain: string, path: readonly string[]): ParsedAddress {
  if (!isScheme(scheme)) {
    fail(input, `has unknown scheme '${scheme}': expected user, hyperty, runtime or domain`);
  }
  if (domain.length === 0) fail(input, 'has no domain');
  if (domain.length > 253 || !DOMAIN.test(domain)) {
    fail(input, `has domain '${domain}', which is not a lower-case DNS name`);
  }
  const [min, max] = ARITY[scheme];
  if (path.length < min || path.length > max) {
    const want = min === max ? `exactly ${min}` : `at least ${min}`;
    fail(input, `needs ${want} path segment(s) after the domain for ${scheme}://, got ${path.length}`);
  }
  for (const segment of path) {
    if (segment.length === 0) fail(input, 'has an empty path segment');
    if (!SEGMENT.test(segment))
      fail(input, `has path segment '${segment}' with a character that must be %-escaped`);
  }
  return { scheme, domain, path };
}

/**
 * Parses an address.
 *
 * @throws ProtoflyError `PF_ERR_ADDRESS` naming what is wrong.
 */
export function parseAddress(input: string): ParsedAddress {
  if (typeof input !== 'string') fail(String(input), 'is not a string');
  if (input.length > MAX_ADDRESS_LENGTH)
    fail(`${input.slice(0, 40)}...`, `is longer than ${MAX_ADDRESS_LENGTH}`);
  const sep = input.indexOf('://');
  if (sep <= 0) fail(input, 'has no scheme: expected user://, hyperty://, runtime:// or domain://');
  const rest = input.slice(sep + 3);
  const slash = rest.indexOf('/');
  const domain = slash === -1 ? rest : rest.slice(0, slash);
  // "domain://host/" is a trailing slash, not an empty segment; everywhere else it is an error.
  const path = slash === -1 ? [] : rest.slice(slash + 1).split('/');
  return check(input, input.slice(0, sep), domain, path);
}

/**
 * Formats an address from its parts; the inverse of {@link parseAddress}.
 *
 * @throws ProtoflyError `PF_ERR_ADDRESS` when a part is not valid.
 */
export function formatAddress(parts: ParsedAddress): string {
  const text = `${parts.scheme}://${parts.domain}${parts.path.map((s) => `/${s}`).join('')}`;
  check(text, parts.scheme, parts.domain, parts.path);
  if (text.length > MAX_ADDRESS_LENGTH) fail(text, `is longer than ${MAX_ADDRESS_LENGTH}`);
  return text;
}

/** The domain of an address, e.g. `b.example` for `user://b.example/bob`. */
export function domainOf(address: string): string {
  return parseAddress(address).domain;
}

/** `user://<domain>/<name>`. */
export function userAddress(domain: string, name: string): string {
  return formatAddress({ scheme: 'user', domain, path: [name] });
}

/** `hyperty://<domain>/<id>`. */
export function hypertyAddress(domain: string, id: string): string {
  return formatAddress({ scheme: 'hyperty', domain, path: [id] });
}
