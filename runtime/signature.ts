import canonicalize from 'canonicalize';
import { fromBase64Url } from '../core/encoding.js';
import { ProtoflyError } from '../core/errors.js';
import type { Ed25519Jwk } from '../core/generated/types.js';
import type { Descriptor } from '../core/plugin.js';

/**
 * Descriptor signatures: Ed25519 over the RFC 8785 (JSON Canonicalization Scheme) form of the
 * descriptor without its `signature` member. One canonicalisation, documented, so any
 * implementation in any language signs and verifies the same bytes.
 */

/**
 * The bytes a descriptor's signature covers.
 *
 * @throws ProtoflyError `PF_ERR_SIGNATURE` when the descriptor has no RFC 8785 form (a string
 *   with a lone surrogate, a number JSON cannot hold such as one that overflowed to Infinity, a
 *   cycle...), naming the value's JSON pointer: such a descriptor can be neither signed nor
 *   verified.
 */
export function signingInput(descriptor: Omit<Descriptor, 'signature'> | Descriptor): Uint8Array {
  const { signature: _ignored, ...unsigned } = descriptor as Descriptor;
  let text: string | undefined;
  try {
    text = canonicalize(unsigned);
  } catch (err) {
    throw uncanonical(unsigned, (err as Error)?.message ?? String(err), err);
  }
  if (text === undefined) throw uncanonical(unsigned, 'it has no JSON form');
  return new TextEncoder().encode(text);
}

/**
 * Imports an Ed25519 public JWK for verification.
 *
 * @throws ProtoflyError `PF_ERR_SIGNATURE` naming Ed25519 when the platform cannot verify it at
 *   all (a browser whose WebCrypto lacks Ed25519, or a page that is not a secure context and has
 *   no `crypto.subtle`): nothing it loads could be verified, so it is refused, not trusted.
 */
export async function importVerifyKey(jwk: Ed25519Jwk): Promise<CryptoKey> {
  const { kty, crv, x } = jwk;
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) {
    throw unsupported('this context has no WebCrypto (crypto.subtle: a page that is not a secure context)');
  }
  try {
    return await subtle.importKey('jwk', { kty, crv, x }, { name: 'Ed25519' }, false, ['verify']);
  } catch (err) {
    if ((err as Error)?.name !== 'NotSupportedError') throw err;
    throw unsupported(`this platform's WebCrypto does not implement Ed25519: ${(err as Error).message}`, err);
  }
}

function unsupported(reason: string, cause?: unknown): ProtoflyError {
  return new ProtoflyError(
    'PF_ERR_SIGNATURE',
    `descriptor signatures (Ed25519) cannot be verified: ${reason}; every stub is refused`,
    { algorithm: 'Ed25519' },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Verifies a descriptor's signature with `key`.
 *
 * @throws ProtoflyError `PF_ERR_SIGNATURE` when it does not verify, or cannot be checked at all
 *   (see {@link signingInput}).
 */
export async function assertSignature(descriptor: Descriptor, key: CryptoKey): Promise<void> {
  const { signature } = descriptor;
  const label = `${descriptor.kind} ${descriptor.domain}/${descriptor.name}@${descriptor.version}`;
  const input = signingInput(descriptor);
  let ok: boolean;
  try {
    ok = await crypto.subtle.verify(
      { name: 'Ed25519' },
      key,
      fromBase64Url(signature.value) as Uint8Array<ArrayBuffer>,
      input as Uint8Array<ArrayBuffer>,
    );
  } catch (err) {
    // Some engines throw on a malformed signature rather than answer false: it does not verify.
    throw new ProtoflyError(
      'PF_ERR_SIGNATURE',
      `${label}: signature cannot be checked with key ${signature.keyId}: ${(err as Error)?.message ?? String(err)}`,
      { keyId: signature.keyId, domain: descriptor.domain },
      { cause: err },
    );
  }
  if (!ok) {
    throw new ProtoflyError(
      'PF_ERR_SIGNATURE',
      `${label}: signature does not verify with key ${signature.keyId}`,
      { keyId: signature.keyId, domain: descriptor.domain },
    );
  }
}

/** The refusal of a descriptor without a canonical form, naming where the offending value is. */
function uncanonical(unsigned: unknown, reason: string, cause?: unknown): ProtoflyError {
  const pointer = offending(unsigned);
  return new ProtoflyError(
    'PF_ERR_SIGNATURE',
    `descriptor: ${pointer || '(root)'} cannot be canonicalised (RFC 8785): ${reason}`,
    { pointer, reason },
    cause === undefined ? undefined : { cause },
  );
}

/** With the `u` flag a surrogate pair is one code point: only a lone surrogate matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * The JSON pointer of a value RFC 8785 cannot serialise: a string (or member name) that is not
 * well-formed UTF-16, a number that is not finite, a bigint, or an object met again inside
 * itself. Only called once canonicalisation failed; iterative, as deep as the input is.
 */
function offending(root: unknown): string {
  const inside = new Set<object>();
  const stack: { value: unknown; pointer: string; leaving?: boolean }[] = [{ value: root, pointer: '' }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { value, pointer } = top;
    if (typeof value === 'string' && LONE_SURROGATE.test(value)) return pointer;
    if (typeof value === 'number' && !Number.isFinite(value)) return pointer;
    if (typeof value === 'bigint') return pointer;
    if (typeof value !== 'object' || value === null) continue;
    if (top.leaving) {
      inside.delete(value);
      continue;
    }
    if (inside.has(value)) return pointer;
    inside.add(value);
    stack.push({ value, pointer, leaving: true });
    for (const [key, child] of Object.entries(value).reverse()) {
      const at = `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (LONE_SURROGATE.test(key)) return at;
      stack.push({ value: child, pointer: at });
    }
  }
  return '';
}
