/**
 * UTF-8 byte counting over JS strings. SIP's Content-Length counts octets (RFC 3261 §20.14),
 * and a WebSocket text frame is UTF-8 (RFC 7118 §4.2), so a string message's body length is
 * the UTF-8 length of its characters. A lone surrogate counts as U+FFFD, three bytes, which is
 * what TextEncoder writes for it.
 */

const encoder = new TextEncoder();
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function width(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) return 4;
  return 3;
}

const NON_ASCII = /[\u0080-\uffff]/g;

/** Index of the first non-ASCII code unit of `s` at or after `from` (s.length when none): ASCII is one byte each. */
function asciiEnd(s: string, from: number): number {
  NON_ASCII.lastIndex = from;
  return NON_ASCII.exec(s)?.index ?? s.length;
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

/** `bytes` as text, or undefined when they are not well-formed UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strict.decode(bytes);
  } catch {
    return undefined;
  }
}

/** `s` as UTF-8 bytes. */
export function encodeUtf8(s: string): Uint8Array {
  return encoder.encode(s);
}
