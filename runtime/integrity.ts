import { toBase64, toHex } from '../core/encoding.js';
import { ProtoflyError } from '../core/errors.js';

/**
 * Subresource Integrity (W3C SRI) with sha384, the only algorithm descriptors use.
 */

/** The SRI string of `bytes`: `sha384-<base64>`. */
export async function integrityOf(bytes: Uint8Array): Promise<string> {
  return `sha384-${toBase64(await sha384(bytes))}`;
}

/** The hex digest behind an SRI string: the content address of a package file. */
export function integrityHex(integrity: string): string {
  const bin = atob(integrity.slice('sha384-'.length));
  return toHex(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
}

/**
 * Checks that `bytes` are exactly what `integrity` names.
 *
 * @throws ProtoflyError `PF_ERR_INTEGRITY` naming both hashes.
 */
export async function assertIntegrity(bytes: Uint8Array, integrity: string, what: string): Promise<void> {
  const actual = await integrityOf(bytes);
  if (actual !== integrity) {
    throw new ProtoflyError(
      'PF_ERR_INTEGRITY',
      `${what}: bytes hash to ${actual}, the descriptor names ${integrity}`,
      {
        expected: integrity,
        actual,
      },
    );
  }
}

async function sha384(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-384', bytes as Uint8Array<ArrayBuffer>));
}
