import { is } from './chars.js';
import { decodeUtf8, encodeUtf8 } from './utf8.js';

/**
 * RFC 3261 §19.1.2 and §25.1 `escaped = "%" HEXDIG HEXDIG`: the escaping of URI components.
 * Components are kept unescaped once parsed (RFC 3261 §19.1.4 compares them so: `%6C%72` is
 * `lr`), and escaped again when formatted.
 */

const HEX = '0123456789ABCDEF';

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** True when `s` is made of characters of class `flag` and well-formed `%XX` escapes only. */
export function isEscaped(s: string, flag: number): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (is(c, flag)) continue;
    if (c !== 0x25 || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
    i += 2;
  }
  return true;
}

/**
 * RFC 3261 §19.1.2: `s` (already checked with {@link isEscaped}) with its escapes decoded as
 * UTF-8. Escaped octets that are not UTF-8 become U+FFFD: SIP allows them, a JS string cannot
 * hold them.
 */
export function percentDecode(s: string): string {
  if (s.indexOf('%') === -1) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) === 0x25) {
        bytes.push(Number.parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        for (const b of encodeUtf8(s[i]!)) bytes.push(b);
      }
    }
    return decodeUtf8(new Uint8Array(bytes), false);
  }
}

/** RFC 3261 §19.1.2: `s` with every character outside class `flag` written as `%XX` UTF-8 escapes. */
export function percentEncode(s: string, flag: number): string {
  let i = 0;
  while (i < s.length && is(s.charCodeAt(i), flag)) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (const ch of s.slice(i)) {
    if (is(ch.charCodeAt(0), flag)) {
      out += ch;
      continue;
    }
    for (const b of encodeUtf8(ch)) out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  return out;
}
