/**
 * UTF-8 (RFC 3629) over JS strings, without TextEncoder or TextDecoder: a SES compartment's
 * globals are the JS intrinsics, and those two are not among them.
 *
 * SIP's Content-Length counts octets (RFC 3261 §20.14), and a WebSocket text frame is UTF-8
 * (RFC 7118 §4.2), so a string message's body length is the UTF-8 length of its characters. A
 * lone surrogate counts as U+FFFD, three bytes, which is what it is written as.
 */

const NON_ASCII = /[\u0080-\uffff]/;

/** Index of the first non-ASCII code unit of `s` at or after `from` (s.length when none): ASCII is one byte each. */
function asciiEnd(s: string, from: number): number {
  const at = (from === 0 ? s : s.slice(from)).search(NON_ASCII);
  return at === -1 ? s.length : from + at;
}

/** True when `s[i]` starts a surrogate pair. */
function isPair(s: string, i: number): boolean {
  return (s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
}

function width(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  return isPair(s, i) ? 4 : 3;
}

/** UTF-8 length in bytes of `s` from index `from`. */
export function utf8Length(s: string, from = 0): number {
  const ascii = asciiEnd(s, from);
  let n = ascii - from;
  for (let i = ascii; i < s.length; i++) {
    const w = width(s, i);
    n += w;
    if (w === 4) i++;
  }
  return n;
}

/**
 * The index in `s` where `bytes` UTF-8 bytes counted from `from` end, or -1 when `s` holds
 * fewer bytes or the count ends inside a character.
 */
export function utf8End(s: string, from: number, bytes: number): number {
  const ascii = asciiEnd(s, from);
  if (ascii - from >= bytes) return from + bytes;
  let n = ascii - from;
  let i = ascii;
  while (n < bytes && i < s.length) {
    const w = width(s, i);
    n += w;
    i += w === 4 ? 2 : 1;
  }
  return n === bytes ? i : -1;
}

/** `s` as UTF-8 bytes. */
export function encodeUtf8(s: string): Uint8Array {
  const out = new Uint8Array(utf8Length(s));
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[j++] = c;
    } else if (c < 0x800) {
      out[j++] = 0xc0 | (c >> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else if (isPair(s, i)) {
      c = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      out[j++] = 0xf0 | (c >> 18);
      out[j++] = 0x80 | ((c >> 12) & 0x3f);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      if ((c & 0xf800) === 0xd800) c = 0xfffd;
      out[j++] = 0xe0 | (c >> 12);
      out[j++] = 0x80 | ((c >> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
  }
  return out;
}

/**
 * The code point of the well-formed UTF-8 sequence at `bytes[i]` (RFC 3629 §4: no overlong
 * forms, no surrogates, nothing above U+10FFFF) and its length, or undefined.
 */
function sequence(bytes: Uint8Array, i: number): [number, number] | undefined {
  const b0 = bytes[i]!;
  let n: number;
  let min: number;
  if (b0 >= 0xc2 && b0 <= 0xdf) [n, min] = [1, 0x80];
  else if (b0 >= 0xe0 && b0 <= 0xef) [n, min] = [2, 0x800];
  else if (b0 >= 0xf0 && b0 <= 0xf4) [n, min] = [3, 0x10000];
  else return undefined;
  let c = b0 & (0x3f >> n);
  for (let k = 1; k <= n; k++) {
    const b = bytes[i + k];
    if (b === undefined || (b & 0xc0) !== 0x80) return undefined;
    c = (c << 6) | (b & 0x3f);
  }
  if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return undefined;
  return [c, n + 1];
}

/**
 * `bytes` as text. When they are not well-formed UTF-8: undefined if `strict`, else each
 * offending byte becomes U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array, strict?: true): string | undefined;
export function decodeUtf8(bytes: Uint8Array, strict: false): string;
export function decodeUtf8(bytes: Uint8Array, strict = true): string | undefined {
  const units: number[] = [];
  let out = '';
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x80) {
      units.push(b);
      i++;
    } else {
      const seq = sequence(bytes, i);
      if (seq === undefined && strict) return undefined;
      const [c, length] = seq ?? [0xfffd, 1];
      if (c < 0x10000) units.push(c);
      else units.push(0xd800 + ((c - 0x10000) >> 10), 0xdc00 + ((c - 0x10000) & 0x3ff));
      i += length;
    }
    // Flush in chunks: fromCharCode takes its arguments on the stack.
    if (units.length >= 8192) out += String.fromCharCode(...units.splice(0));
  }
  return out + String.fromCharCode(...units);
}
