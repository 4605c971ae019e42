import { decodeProtectedHeader, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { isProtoflyError, ProtoflyError } from '../../../core/errors.js';

/** Asymmetric algorithms only: never `none`, never HS* (a public key would then be a shared secret). */
export const ID_TOKEN_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA', 'Ed25519'] as const;

export interface IdTokenExpectations {
  readonly issuer: string;
  /** This domain's client id at the provider: the audience, and the `azp` when there are others. */
  readonly clientId: string;
  /** The nonce of the authorization request. */
  readonly nonce: string;
  /** Algorithms accepted, a subset of {@link ID_TOKEN_ALGORITHMS}. */
  readonly algorithms: readonly string[];
  /** Clock skew tolerated on `exp`, `iat` and `nbf`, in seconds. */
  readonly skewSeconds: number;
  /** Oldest ID token accepted by its `iat`, in seconds: one is redeemed moments after it is made. */
  readonly maxAgeSeconds: number;
}

/**
 * Verifies an ID token as OpenID Connect Core 1.0 §3.1.3.7 asks of a client: the signature
 * with the provider's keys and an algorithm of the list, `iss`, `aud` (and `azp` when there are
 * several audiences), `exp` and `iat` within the skew, and the request's `nonce`.
 *
 * @returns its claims.
 * @throws ProtoflyError `PF_ERR_AUTH` naming what is wrong, `PF_ERR_FETCH` when the provider's
 *   keys cannot be had.
 */
export async function verifyIdToken(
  token: string,
  keys: JWTVerifyGetKey,
  expect: IdTokenExpectations,
): Promise<JWTPayload> {
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch (err) {
    throw refused(`is not a JWT`, err);
  }
  // Refused before any key is looked up: an unsigned or HMAC token needs no key fetch to be wrong.
  if (typeof alg !== 'string' || !expect.algorithms.includes(alg)) {
    throw refused(`is signed with alg ${JSON.stringify(alg)}, not one of ${expect.algorithms.join(', ')}`);
  }
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keys, {
      issuer: expect.issuer,
      audience: expect.clientId,
      algorithms: [...expect.algorithms],
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      clockTolerance: expect.skewSeconds,
      maxTokenAge: expect.maxAgeSeconds,
    }));
  } catch (err) {
    if (isProtoflyError(err, 'PF_ERR_FETCH')) throw err;
    throw refused((err as Error).message, err);
  }
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if ((audiences.length > 1 || payload.azp !== undefined) && payload.azp !== expect.clientId) {
    throw refused(`is for ${JSON.stringify(payload.azp)} (azp), not ${expect.clientId}`);
  }
  if (payload.nonce !== expect.nonce) throw refused('carries another nonce than the log-in asked for');
  return payload;
}

function refused(why: string, cause?: unknown): ProtoflyError {
  return new ProtoflyError('PF_ERR_AUTH', `ID token ${why}`, {}, { cause });
}
