import { is, isWsp, scan, skipWsp, TOKEN } from './chars.js';
import { fail, show } from './fault.js';
import { formatParams, type Params, parseParams } from './params.js';
import { quote, quotedEnd, unquote } from './quoted-string.js';
import { formatUri, parseUri, type Uri } from './uri.js';

/**
 * RFC 3261 §20.10 and §25.1 `( name-addr / addr-spec ) *( SEMI param )`: the value of From,
 * To, Contact, Route, Record-Route, Reply-To, Refer-To and their kin.
 */
export interface NameAddr {
  /** The display name, unquoted and unescaped; undefined when there is none. */
  readonly displayName: string | undefined;
  readonly uri: Uri;
  /** Header parameters (tag, expires, q, +sip.instance...), not the URI's. */
  readonly params: Params;
}

/**
 * RFC 3261 §20.10 / §25.1: parses one (already comma-split) value.
 *
 *     name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
 *     display-name = *(token LWS) / quoted-string
 *     LAQUOT = SWS "<"     RAQUOT = ">" SWS
 *
 * No white space is allowed inside `<...>` (RFC 4475 §3.1.2.14). A token display name directly
 * followed by `<` is accepted, as RFC 4475 §3.1.1.6 asks. In the addr-spec form the URI ends at
 * the first `;` (the header parameters) and may not contain `?` or `,` (RFC 3261 §20.10).
 * `requireBrackets` refuses the addr-spec form (Route and Record-Route: `name-addr` only).
 */
export function parseNameAddr(s: string, requireBrackets = false): NameAddr {
  if (s === '') fail('the value is empty');
  let displayName: string | undefined;
  let open: number;
  if (s.charCodeAt(0) === 0x22) {
    const end = quotedEnd(s, 0);
    displayName = unquote(s.slice(0, end));
    open = skipWsp(s, end);
    if (s.charCodeAt(open) !== 0x3c) fail(`quoted display name is not followed by <URI>`);
  } else if (s.charCodeAt(0) === 0x3c) {
    open = 0;
  } else {
    const first = scan(s, 0, TOKEN);
    if (s.charCodeAt(first) === 0x3a) {
      if (requireBrackets) fail(`the URI must be enclosed in <>`);
      return addrSpec(s);
    }
    open = first;
    while (open < s.length && (isWsp(s.charCodeAt(open)) || is(s.charCodeAt(open), TOKEN))) open++;
    if (s.charCodeAt(open) !== 0x3c) {
      fail(
        `unquoted display name ${show(s.slice(0, open))} is followed by ${show(s.slice(open, open + 1))}, not <`,
      );
    }
    displayName = s
      .slice(0, open)
      .trim()
      .replace(/[ \t]+/g, ' ');
  }
  const close = s.indexOf('>', open + 1);
  if (close === -1) fail(`'<' has no matching '>'`);
  const inner = s.slice(open + 1, close);
  if (isWsp(inner.charCodeAt(0)) || isWsp(inner.charCodeAt(inner.length - 1))) {
    fail(`white space inside <${inner}>`);
  }
  return { displayName, uri: parseUri(inner), params: parseParams(s, close + 1) };
}

/** RFC 3261 §25.1 `addr-spec *( SEMI param )`, no angle brackets. */
function addrSpec(s: string): NameAddr {
  let end = 0;
  while (end < s.length && s.charCodeAt(end) !== 0x3b && !isWsp(s.charCodeAt(end))) end++;
  const raw = s.slice(0, end);
  if (raw.indexOf('?') !== -1 || raw.indexOf(',') !== -1) {
    fail(`URI ${show(raw)} contains '?' or ',' and must be enclosed in <>`);
  }
  return { displayName: undefined, uri: parseUri(raw), params: parseParams(s, end) };
}

/** RFC 3261 §20.10: `a` in name-addr form, display name always quoted, URI always in <>. */
export function formatNameAddr(a: NameAddr): string {
  const name = a.displayName === undefined ? '' : `${quote(a.displayName)} `;
  return `${name}<${formatUri(a.uri)}>${formatParams(a.params)}`;
}
