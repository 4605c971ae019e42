import { MAGIC_COOKIE } from '../message/via.js';

/**
 * Fresh identifiers: tags (RFC 3261 §19.3, at least 32 bits of randomness), branches
 * (§8.1.1.7, the magic cookie then a part unique in space and time), Call-IDs (§8.1.1.4) and
 * client nonces (RFC 7616 §3.4). From `crypto.getRandomValues`, which the sandbox grants.
 */

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** `length` characters of [a-z0-9], about 5.2 bits each. */
export function randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = '';
  // 256 is not a multiple of 36: the first four characters come a little more often, which
  // an identifier (unique, not secret) can afford.
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! % 36];
  return out;
}

/** A From or To tag (§19.3): 10 characters, about 52 bits. */
export const newTag = (): string => randomToken(10);
/** A branch (§8.1.1.7): the magic cookie and 16 characters. */
export const newBranch = (): string => MAGIC_COOKIE + randomToken(16);
/** A Call-ID (§8.1.1.4): 22 characters, about 113 bits. */
export const newCallId = (): string => randomToken(22);
/** A client nonce (RFC 7616 §3.4). */
export const newCnonce = (): string => randomToken(16);

/** A random integer from 0 to `n` - 1 (for waits chosen at random, RFC 3261 §14). */
export function randomInt(n: number): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! % n;
}
