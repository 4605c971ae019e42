/**
 * Character classes of the RFC 3261 §25.1 grammar, one bit each, over ASCII. Non-ASCII code
 * units belong to no class here: the productions that admit UTF-8 (quoted strings, TEXT-UTF8)
 * check for them on their own.
 */

/** token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
export const TOKEN = 1;
/** word (Call-ID): token characters and ( ) < > : \ DQUOTE / [ ] ? { } */
export const WORD = 2;
/** user: unreserved / user-unreserved (& = + $ , ; ? /), escapes aside */
export const USER = 4;
/** password: unreserved / & = + $ , (escapes aside) */
export const PASSWORD = 8;
/** paramchar: unreserved / param-unreserved ([ ] / : & + $), escapes aside */
export const PARAM = 16;
/** hname / hvalue: unreserved / hnv-unreserved ([ ] / ? : + $), escapes aside */
export const HNV = 32;
/** uric (RFC 2396): reserved / unreserved / [ ], escapes aside: the opaque part of another scheme's URI */
export const URIC = 64;
/** hostname / IPv4address: alphanum / "-" / "." */
export const HOST = 128;
/** scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) after its first letter */
export const SCHEME = 256;
/** a header parameter value (gen-value: token / host, with IPv6 for `received`) */
export const GEN_VALUE = 512;

const table = new Uint16Array(128);

function add(chars: string, flags: number): void {
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)]! |= flags;
}

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGIT = '0123456789';
const ALNUM = ALPHA + DIGIT;
/** Every URI component allows unreserved = alphanum / mark (- _ . ! ~ * ' ( )). */
const URI_BASIC = USER | PASSWORD | PARAM | HNV | URIC;

add(ALNUM, TOKEN | WORD | URI_BASIC | HOST | SCHEME | GEN_VALUE);
add("-_.!~*'()", URI_BASIC);
add("-.!%*_+`'~", TOKEN | WORD | GEN_VALUE);
add('()<>:\\"/[]?{}', WORD);
add('&=+$,;?/', USER);
add('&=+$,', PASSWORD);
add('[]/:&+$', PARAM);
add('[]/?:+$', HNV);
add(';/?:@&=+$,[]', URIC);
add('-.', HOST);
add('+-.', SCHEME);
add(':[]', GEN_VALUE);

/** True when the UTF-16 code unit `c` is in class `flag`. */
export function is(c: number, flag: number): boolean {
  return c < 128 && (table[c]! & flag) !== 0;
}

/** Index of the first code unit at or after `from` that is not in class `flag` (s.length when none). */
export function scan(s: string, from: number, flag: number): number {
  let i = from;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (table[c]! & flag) === 0) break;
    i++;
  }
  return i;
}

/** True when `s` is non-empty and all in class `flag`. */
export function all(s: string, flag: number): boolean {
  return s.length > 0 && scan(s, 0, flag) === s.length;
}

/** True for SP and HTAB, the white space left in a header value once its lines are unfolded. */
export function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Index of the first code unit at or after `from` that is not SP or HTAB. */
export function skipWsp(s: string, from: number): number {
  let i = from;
  while (i < s.length && isWsp(s.charCodeAt(i))) i++;
  return i;
}

/** `s` in lower case; the same string, not a copy, when it has no upper-case ASCII letter (the usual case). */
export function lower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return s.toLowerCase();
  }
  return s;
}

/** `s` in upper case; the same string when it has no lower-case ASCII letter. */
export function upper(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) return s.toUpperCase();
  }
  return s;
}

/** True for a control character other than HTAB (RFC 5234 CTL minus the white space SIP allows in text). */
export function isControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
}

/** True when `s` holds a character {@link isControl} refuses. */
export function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (isControl(s.charCodeAt(i))) return true;
  return false;
}

/** `s` without leading and trailing SP / HTAB (String#trim would also eat CR, LF and Unicode spaces). */
export function trimWsp(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isWsp(s.charCodeAt(start))) start++;
  while (end > start && isWsp(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}
