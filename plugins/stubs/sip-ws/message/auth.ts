import { all, GEN_VALUE, isWsp, lower, scan, skipWsp, TOKEN } from './chars.js';
import { fail, show } from './fault.js';
import type { Params } from './params.js';
import { quotedEnd } from './quoted-string.js';

/**
 * RFC 3261 §20.7, §20.27, §20.28, §20.44: a challenge (WWW-Authenticate, Proxy-Authenticate) or
 * credentials (Authorization, Proxy-Authorization). These values contain commas of their own, so
 * their headers are never split into lists: each field is one challenge or one set of credentials.
 */
export interface AuthValue {
  /** As written: `Digest`; compare it case-insensitively. */
  readonly scheme: string;
  /** Lower-cased names; values as written, a quoted string with its quotes (see `unquote`). */
  readonly params: Params;
}

/**
 * RFC 3261 §25.1 `challenge` / `credentials`:
 * `auth-scheme LWS auth-param *(COMMA auth-param)`, `auth-param = name EQUAL ( token / quoted-string )`.
 */
export function parseAuth(s: string): AuthValue {
  const schemeEnd = scan(s, 0, TOKEN);
  if (schemeEnd === 0 || !isWsp(s.charCodeAt(schemeEnd)))
    fail('expected an auth scheme, white space and parameters');
  const out = new Map<string, string>();
  let i = skipWsp(s, schemeEnd);
  for (;;) {
    const nameEnd = scan(s, i, TOKEN);
    const eq = skipWsp(s, nameEnd);
    if (nameEnd === i || s.charCodeAt(eq) !== 0x3d) fail(`expected name=value at ${show(s.slice(i))}`);
    const start = skipWsp(s, eq + 1);
    const end = s.charCodeAt(start) === 0x22 ? quotedEnd(s, start) : scan(s, start, TOKEN);
    if (end === start) fail(`parameter ${show(s.slice(i, nameEnd))} has no value`);
    const name = lower(s.slice(i, nameEnd));
    if (out.has(name)) fail(`parameter '${name}' appears twice`);
    out.set(name, s.slice(start, end));
    i = skipWsp(s, end);
    if (i === s.length) return { scheme: s.slice(0, schemeEnd), params: out };
    if (s.charCodeAt(i) !== 0x2c) fail(`expected ',' before ${show(s.slice(i))}`);
    i = skipWsp(s, i + 1);
  }
}

/** RFC 3261 §25.1: `a` as `Digest realm="x", nonce="y"`. */
export function formatAuth(a: AuthValue): string {
  const parts: string[] = [];
  for (const [name, param] of a.params) {
    const value = param ?? '';
    const ok = value.charCodeAt(0) === 0x22 ? quotedEnd(value, 0) === value.length : all(value, GEN_VALUE);
    if (!all(name, TOKEN) || !ok)
      fail(`auth parameter ${show(name)}=${show(value)} is not name=token or name="quoted"`);
    parts.push(`${name}=${value}`);
  }
  return `${a.scheme} ${parts.join(', ')}`;
}
