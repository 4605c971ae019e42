import { isControl } from './chars.js';
import { fail, show } from './fault.js';

/**
 * RFC 3261 §25.1 quoted strings:
 *
 *     quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
 *     qdtext        = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
 *     quoted-pair   = "\" (%x00-09 / %x0B-0C / %x0E-7F)
 *
 * Control characters may only appear escaped; CR and LF cannot appear at all.
 */

/** True when `c` may stand unescaped between the quotes (qdtext, LWS already unfolded). */
function isQdtext(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x21 || (c >= 0x23 && c <= 0x7e && c !== 0x5c) || c >= 0x80;
}

/** RFC 3261 §25.1: the index just past the quoted string that opens at `s[start]` (a DQUOTE). */
export function quotedEnd(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      const next = s.charCodeAt(i + 1);
      if (!(next <= 0x7f && next !== 0x0a && next !== 0x0d)) {
        fail(`quoted string ${show(s.slice(start))} escapes a character that quoted-pair cannot escape`);
      }
      i++;
    } else if (!isQdtext(c)) {
      fail(`quoted string ${show(s.slice(start))} holds control character ${show(s[i]!)} unescaped`);
    }
  }
  return fail(`quoted string ${show(s.slice(start))} has no closing quote`);
}

/** RFC 3261 §25.1: the text a quoted string (DQUOTEs included, checked by {@link quotedEnd}) stands for. */
export function unquote(quoted: string): string {
  const inner = quoted.slice(1, -1);
  return inner.indexOf('\\') === -1 ? inner : inner.replace(/\\([\s\S])/g, '$1');
}

/** RFC 3261 §25.1: `text` as a quoted string, escaping DQUOTE, backslash and control characters. */
export function quote(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) fail(`${show(text)} holds CR or LF, which a quoted string cannot carry`);
    if (c === 0x22 || c === 0x5c || isControl(c)) out += '\\';
    out += text[i];
  }
  return `${out}"`;
}
