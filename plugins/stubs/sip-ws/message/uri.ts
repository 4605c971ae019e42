import { all, HNV, HOST, is, lower, PARAM, PASSWORD, SCHEME, URIC, USER } from './chars.js';
import { parseDecimal } from './decimal.js';
import { isEscaped, percentDecode, percentEncode } from './escape.js';
import { fail, show, within } from './fault.js';
import { NO_PARAMS, type Params } from './params.js';

/**
 * URIs as SIP carries them: SIP and SIPS URIs (RFC 3261 §19.1), tel URIs (RFC 3966, the part
 * a SIP endpoint meets: a number and parameters) and any other absolute URI (RFC 3261 §25.1
 * `absoluteURI`, kept opaque: `isbn:...`, `http://...`, `urn:...`).
 *
 * Components are kept unescaped (`sip:%75ser@h` has user `user`), URI parameter names in
 * lower case. `formatUri` escapes what must be escaped, so a parsed URI formats to an
 * equivalent one (RFC 3261 §19.1.4), not necessarily to the same characters.
 */

/** RFC 3261 §19.1.1: a SIP or SIPS URI, taken apart. */
export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** A host name or IPv4 address as written, or an IPv6 reference with its brackets. */
  readonly host: string;
  readonly port: number | undefined;
  /** URI parameters (transport, lr, ob, ...), unescaped; a parameter without a value maps to null. */
  readonly params: Params;
  /** URI headers (`?Route=...&Subject=...`), unescaped, in order. */
  readonly headers: ReadonlyMap<string, string>;
}

/** RFC 3966: a tel URI; `number` keeps its visual separators. */
export interface TelUri {
  readonly scheme: 'tel';
  readonly number: string;
  readonly params: Params;
}

/** RFC 3261 §25.1 `absoluteURI` of another scheme, kept as written after the colon. */
export interface OtherUri {
  readonly scheme: string;
  readonly opaque: string;
}

/** Any URI a SIP message may carry. */
export type Uri = SipUri | TelUri | OtherUri;

/** True for a SIP or SIPS URI. */
export function isSipUri(uri: Uri): uri is SipUri {
  return uri.scheme === 'sip' || uri.scheme === 'sips';
}

/** True for a tel URI. */
export function isTelUri(uri: Uri): uri is TelUri {
  return uri.scheme === 'tel';
}

const NO_HEADERS: ReadonlyMap<string, string> = new Map();
const TEL_NUMBER = /^[0-9A-Fa-f*#+\-.()]+$/;
const IPV6_REFERENCE = /^\[[0-9A-Fa-f:.]+\]$/;

/**
 * RFC 3261 §19.1.1 / §25.1 `SIP-URI / SIPS-URI / absoluteURI`, and RFC 3966 `telephone-uri`.
 * Refuses white space, bad escapes and characters outside each component's set.
 */
export function parseUri(s: string): Uri {
  if (s.startsWith('sip:')) return parseSipUri(s, 'sip', 4);
  const colon = s.indexOf(':');
  if (colon <= 0 || !is(s.charCodeAt(0), SCHEME) || !all(s.slice(0, colon), SCHEME)) {
    fail(`URI ${show(s)} has no scheme`);
  }
  const scheme = lower(s.slice(0, colon));
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(s, scheme, colon + 1);
  if (scheme === 'tel') return parseTelUri(s, colon + 1);
  const opaque = s.slice(colon + 1);
  if (opaque === '' || !isEscaped(opaque, URIC)) fail(`URI ${show(s)} has a character URIs do not allow`);
  return { scheme, opaque };
}

/** RFC 3261 §19.1.1: `sip:user:password@host:port;params?headers`, read from `s[from]`. */
function parseSipUri(s: string, scheme: 'sip' | 'sips', from: number): SipUri {
  let i = from;
  let user: string | undefined;
  let password: string | undefined;
  // user and password cannot hold an unescaped "@", but the user part may hold ";" and "?"
  // (RFC 4475 §3.1.1.9): so the first "@" ends the userinfo, before params are looked for.
  const at = s.indexOf('@', i);
  if (at !== -1) {
    const userinfo = s.slice(i, at);
    const pc = userinfo.indexOf(':');
    const rawUser = pc === -1 ? userinfo : userinfo.slice(0, pc);
    if (rawUser === '' || !isEscaped(rawUser, USER)) fail(`URI ${show(s)} has a malformed user part`);
    user = percentDecode(rawUser);
    if (pc !== -1) {
      const rawPassword = userinfo.slice(pc + 1);
      if (!isEscaped(rawPassword, PASSWORD)) fail(`URI ${show(s)} has a malformed password`);
      password = percentDecode(rawPassword);
    }
    i = at + 1;
  }
  let end = i;
  while (end < s.length && s.charCodeAt(end) !== 0x3b && s.charCodeAt(end) !== 0x3f) end++;
  const [host, port] = hostPort(s.slice(i, end), s);
  let p: Map<string, string | null> | undefined;
  i = end;
  while (s.charCodeAt(i) === 0x3b) {
    let next = i + 1;
    while (next < s.length && s.charCodeAt(next) !== 0x3b && s.charCodeAt(next) !== 0x3f) next++;
    p = uriParam(s.slice(i + 1, next), p, s);
    i = next;
  }
  let headers: Map<string, string> | undefined;
  if (i < s.length) {
    headers = new Map();
    for (const h of s.slice(i + 1).split('&')) {
      const eq = h.indexOf('=');
      const name = eq === -1 ? '' : h.slice(0, eq);
      const value = h.slice(eq + 1);
      if (name === '' || !isEscaped(name, HNV) || !isEscaped(value, HNV)) {
        fail(`URI ${show(s)} has a malformed header ${show(h)}`);
      }
      headers.set(percentDecode(name), percentDecode(value));
    }
  }
  return { scheme, user, password, host, port, params: p ?? NO_PARAMS, headers: headers ?? NO_HEADERS };
}

/** RFC 3261 §25.1 `host = hostname / IPv4address / IPv6reference`, by character set. */
export function isHost(host: string): boolean {
  return all(host, HOST) || IPV6_REFERENCE.test(host);
}

/** RFC 3261 §25.1 `hostport = host [ ":" port ]`; `uri` is only for the error message. */
function hostPort(hp: string, uri: string): [string, number | undefined] {
  let colon: number;
  if (hp.charCodeAt(0) === 0x5b) {
    const close = hp.indexOf(']');
    colon = close === -1 ? -1 : close + 1;
    if (colon === hp.length) colon = -1;
  } else {
    colon = hp.indexOf(':');
  }
  const host = colon === -1 ? hp : hp.slice(0, colon);
  if (!isHost(host)) fail(`URI ${show(uri)} has a malformed host ${show(host)}`);
  if (colon === -1) return [host, undefined];
  if (hp.charCodeAt(colon) !== 0x3a) fail(`URI ${show(uri)} has text after its host`);
  try {
    return [host, parseDecimal(hp.slice(colon + 1), 65535, 'port')];
  } catch (err) {
    return within(err, 'URI', uri, {});
  }
}

/** RFC 3261 §25.1 `uri-parameter = pname [ "=" pvalue ]`, added to `p` (made when undefined). */
function uriParam(
  param: string,
  p: Map<string, string | null> | undefined,
  uri: string,
): Map<string, string | null> {
  const eq = param.indexOf('=');
  const name = eq === -1 ? param : param.slice(0, eq);
  const value = eq === -1 ? null : param.slice(eq + 1);
  if (
    name === '' ||
    !isEscaped(name, PARAM) ||
    value === '' ||
    (value !== null && !isEscaped(value, PARAM))
  ) {
    fail(`URI ${show(uri)} has a malformed parameter ${show(param)}`);
  }
  const key = lower(percentDecode(name));
  const out = p ?? new Map<string, string | null>();
  if (out.has(key)) fail(`URI ${show(uri)} has parameter '${key}' twice`);
  return out.set(key, value === null ? null : percentDecode(value));
}

/** RFC 3966 `telephone-uri`, minimal: a global or local number, then parameters. */
function parseTelUri(s: string, from: number): TelUri {
  const semi = s.indexOf(';', from);
  const number = s.slice(from, semi === -1 ? s.length : semi);
  if (!TEL_NUMBER.test(number)) fail(`tel URI ${show(s)} has a malformed number`);
  let p: Map<string, string | null> | undefined;
  if (semi !== -1) for (const param of s.slice(semi + 1).split(';')) p = uriParam(param, p, s);
  return { scheme: 'tel', number, params: p ?? NO_PARAMS };
}

/** RFC 3261 §19.1.1: `uri` as text, escaping each component as its grammar requires. */
export function formatUri(uri: Uri): string {
  if (isSipUri(uri)) {
    let out = `${uri.scheme}:`;
    if (uri.user !== undefined) {
      out += percentEncode(uri.user, USER);
      if (uri.password !== undefined) out += `:${percentEncode(uri.password, PASSWORD)}`;
      out += '@';
    }
    out += uri.port === undefined ? uri.host : `${uri.host}:${uri.port}`;
    out += formatUriParams(uri.params);
    let sep = '?';
    for (const [name, value] of uri.headers) {
      out += `${sep}${percentEncode(name, HNV)}=${percentEncode(value, HNV)}`;
      sep = '&';
    }
    return out;
  }
  if (isTelUri(uri)) return `tel:${uri.number}${formatUriParams(uri.params)}`;
  return `${uri.scheme}:${(uri as OtherUri).opaque}`;
}

function formatUriParams(p: Params): string {
  let out = '';
  for (const [name, value] of p) {
    out +=
      value === null
        ? `;${percentEncode(name, PARAM)}`
        : `;${percentEncode(name, PARAM)}=${percentEncode(value, PARAM)}`;
  }
  return out;
}
