import canonicalize from 'canonicalize';
import { fromBase64Url } from './encoding.js';
import { ProtoflyError } from './errors.js';
import type { Ed25519Jwk } from './generated/types.js';
import type { Descriptor } from './plugin.js';

/**
 * Descriptor signatures: Ed25519 over the RFC 8785 (JSON Canonicalization Scheme) form of the
 * descriptor without its `signature` member. One canonicalisation, documented, so any
 * implementation in any language signs and verifies the same bytes.
 */

/** The bytes a descriptor's signature covers. */
export function signingInput(descriptor: Omit<Descriptor, 'signature'> | Descriptor): Uint8Array {
  const { signature: _ignored, ...unsigned } = descriptor as Descriptor;
  const text = canonicalize(unsigned);
  if (text === undefined) throw new ProtoflyError('PF_ERR_SCHEMA', 'descriptor: cannot be canonicalised');
  return new TextEncoder().encode(text);
}

/** Imports an Ed25519 public JWK for verification. */
export function importVerifyKey(jwk: Ed25519Jwk): Promise<CryptoKey> {
  const { kty, crv, x } = jwk;
  return crypto.subtle.importKey('jwk', { kty, crv, x }, { name: 'Ed25519' }, false, ['verify']);
}

/**
 * Verifies a descriptor's signature with `key`.
 *
 * @throws ProtoflyError `PF_ERR_SIGNATURE` when it does not verify.
 */
export async function assertSignature(descriptor: Descriptor, key: CryptoKey): Promise<void> {
  const { signature } = descriptor;
  const ok = await crypto.subtle.verify(
    { name: 'Ed25519' },
    key,
    fromBase64Url(signature.value) as Uint8Array<ArrayBuffer>,
    signingInput(descriptor) as Uint8Array<ArrayBuffer>,
  );
  if (!ok) {
    throw new ProtoflyError(
      'PF_ERR_SIGNATURE',
      `${descriptor.kind} ${descriptor.domain}/${descriptor.name}@${descriptor.version}: signature does not verify with key ${signature.keyId}`,
      { keyId: signature.keyId, domain: descriptor.domain },
    );
  }
}
