import { fail, show } from './fault.js';

/**
 * RFC 3261 §25.1 `1*DIGIT` with the bound the field's section sets: Max-Forwards 0-255
 * (§20.22), CSeq below 2**31 (§8.1.1.5), Expires below 2**32 (§20.19), a port below 2**16.
 * Leading zeros are allowed (RFC 4475 §3.1.1.1 sends `0068` and `0009`).
 */
export function parseDecimal(s: string, max: number, what: string): number {
  if (s.length === 0) fail(`${what} is empty`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) fail(`${what} ${show(s)} is not a decimal number`);
  }
  const n = Number(s);
  if (n > max) fail(`${what} ${show(s)} is larger than ${max}`);
  return n;
}
