import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';
import { ProtoflyError } from '../../../core/errors.js';

/**
 * Password hashes for the static users file: scrypt (RFC 7914) through node:crypto, written
 * as `scrypt$<N>$<r>$<p>$<salt>$<hash>` (base64url) so the cost can rise without breaking
 * hashes already written.
 */

/** N = 2^15, r = 8, p = 1: about 32 MiB and tens of milliseconds a check on one core. */
const COST = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

function derive(password: string, salt: Uint8Array, bytes: number, cost: ScryptOptions): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; say so, or Node's 32 MiB default refuses N = 2^15.
  const options = { ...cost, maxmem: 256 * cost.N! * cost.r! };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, bytes, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, KEY_BYTES, COST);
  return `scrypt$${COST.N}$${COST.r}$${COST.p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * Checks a password against a hash from {@link hashPassword}, in constant time.
 *
 * @throws ProtoflyError `PF_ERR_CONFIG` when `hash` is not in the scrypt format.
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const parts = FORMAT.exec(hash);
  if (!parts) {
    throw new ProtoflyError(
      'PF_ERR_CONFIG',
      `password hash '${hash.slice(0, 16)}...' is not scrypt$N$r$p$salt$hash`,
    );
  }
  const [, N, r, p, salt, expected] = parts as unknown as [string, string, string, string, string, string];
  const want = Buffer.from(expected, 'base64url');
  const got = await derive(password, Buffer.from(salt, 'base64url'), want.length, { N: +N, r: +r, p: +p });
  return timingSafeEqual(got, want);
}
