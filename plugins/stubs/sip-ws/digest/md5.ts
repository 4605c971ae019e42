import { encodeUtf8 } from '../message/utf8.js';
import { hexWords, paddedWords } from './hex.js';

/**
 * MD5 (RFC 1321), the digest algorithm RFC 3261 §22.4 and RFC 2617 name, in plain JavaScript:
 * a sandboxed stub has no `crypto.subtle` and no `node:crypto`. Only for digest
 * authentication, where the server chooses the algorithm; never for anything new.
 */

/** Per-round left rotations (RFC 1321 §3.4). */
const S = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];
/** K[i] = floor(abs(sin(i + 1)) · 2^32) (RFC 1321 §3.4). */
const K = Uint32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32));

/** The MD5 digest of the UTF-8 bytes of `text`, as 32 lower-case hex digits. */
export function md5Hex(text: string): string {
  const m = paddedWords(encodeUtf8(text), true);
  const h = new Uint32Array([0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]);
  for (let block = 0; block < m.length; block += 16) {
    let [a, b, c, d] = [h[0]!, h[1]!, h[2]!, h[3]!];
    for (let i = 0; i < 64; i++) {
      let f: number;
      let g: number;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) & 15;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) & 15;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) & 15;
      }
      const sum = (a + f + K[i]! + m[block + g]!) | 0;
      const s = S[(i >> 4) * 4 + (i & 3)]!;
      a = d;
      d = c;
      c = b;
      b = (b + ((sum << s) | (sum >>> (32 - s)))) | 0;
    }
    h[0] = h[0]! + a;
    h[1] = h[1]! + b;
    h[2] = h[2]! + c;
    h[3] = h[3]! + d;
  }
  return hexWords(h, true);
}
