import { all, GEN_VALUE, lower, scan, skipWsp, TOKEN } from './chars.js';
import { fail, show } from './fault.js';
import { quotedEnd } from './quoted-string.js';

/**
 * Parameters, in order (RFC 3261 §25.1 `generic-param` and the named ones built on it: tag,
 * branch, received, rport, expires, q...; and URI parameters). Names are case-insensitive and
 * kept lower-case; a parameter without a value maps to null. A header parameter's value is kept
 * as written (a quoted string keeps its quotes, see `unquote`); a URI parameter's is unescaped.
 */
export type Params = ReadonlyMap<string, string | null>;

/** The parameters of the many values that have none, shared. */
export const NO_PARAMS: Params = new Map();

/**
 * RFC 3261 §25.1 `*( SEMI generic-param )`, with `SEMI = SWS ";" SWS`, `EQUAL = SWS "=" SWS`
 * and `gen-value = token / host / quoted-string`, read from `s[from]` to the end of `s`.
 * Empty parameters (`;;`) and repeated names are refused.
 */
export function parseParams(s: string, from: number): Params {
  let out: Map<string, string | null> | undefined;
  let i = skipWsp(s, from);
  while (i < s.length) {
    if (s.charCodeAt(i) !== 0x3b) fail(`expected ';' before ${show(s.slice(i))}`);
    i = skipWsp(s, i + 1);
    const nameEnd = scan(s, i, TOKEN);
    if (nameEnd === i) fail(`empty or malformed parameter at ${show(s.slice(i - 1))}`);
    const name = lower(s.slice(i, nameEnd));
    i = skipWsp(s, nameEnd);
    let value: string | null = null;
    if (s.charCodeAt(i) === 0x3d) {
      const start = skipWsp(s, i + 1);
      const end = s.charCodeAt(start) === 0x22 ? quotedEnd(s, start) : scan(s, start, GEN_VALUE);
      if (end === start) fail(`parameter '${name}' has '=' but no value`);
      value = s.slice(start, end);
      i = skipWsp(s, end);
    }
    out ??= new Map();
    if (out.has(name)) fail(`parameter '${name}' appears twice`);
    out.set(name, value);
  }
  return out ?? NO_PARAMS;
}

/** RFC 3261 §25.1: `p` as `;name=value;flag`, refusing a value that is neither token, host nor quoted string. */
export function formatParams(p: Params): string {
  let out = '';
  for (const [name, value] of p) {
    if (!all(name, TOKEN)) fail(`parameter name ${show(name)} is not a token`);
    if (value === null) {
      out += `;${name}`;
      continue;
    }
    const ok = value.charCodeAt(0) === 0x22 ? quotedEnd(value, 0) === value.length : all(value, GEN_VALUE);
    if (!ok) fail(`parameter '${name}' value ${show(value)} is neither a token nor a quoted string`);
    out += `;${name}=${value}`;
  }
  return out;
}
