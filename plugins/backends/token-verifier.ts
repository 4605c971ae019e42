import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { parseAddress } from '../../core/address.js';
import { isProtoflyError, ProtoflyError } from '../../core/errors.js';
import type { Jwks } from '../../core/generated/types.js';
import type { KeysOf } from '../../server/services/keys-of.js';
import { KeyCache, type KeyCacheOptions } from './key-cache.js';

/** The signature algorithms accepted: Ed25519, by its JOSE name and its fully specified one. */
const TOKEN_ALGORITHMS = ['EdDSA', 'Ed25519'];

export interface TokenVerifierOptions {
  /** This domain: the audience every token must name, and the issuer whose keys are local. */
  readonly domain: string;
  /** This domain's own public keys. */
  readonly keys: Jwks;
  /** Finds foreign domains' keys. Without it, only this domain's users are admitted. */
  readonly keysOf?: KeysOf;
  /** Foreign domains admitted; any domain whose keys verify when absent. */
  readonly allowDomains?: readonly string[];
  /** How foreign key sets are cached and their fetches limited. */
  readonly cache?: KeyCacheOptions;
  /** Oldest token accepted, by its `iat`, in seconds, whatever its `exp`. Default one day. */
  readonly maxTokenAgeSeconds?: number;
}

/**
 * Verifies identity tokens: JWTs signed with Ed25519 by the user's home domain, `iss` = that
 * domain, `sub` = `user://<iss>/<name>`, `aud` = this domain, with `exp` and `iat`.
 *
 * Cheap refusals come before any key fetch: a malformed token, a `sub` outside its issuer's
 * domain, another audience, a domain not admitted.
 */
export class TokenVerifier {
  readonly domain: string;
  readonly #home: JWTVerifyGetKey;
  readonly #foreign: KeyCache | undefined;
  readonly #allow: ReadonlySet<string> | undefined;
  readonly #maxAge: number;

  constructor(options: TokenVerifierOptions) {
    this.domain = options.domain;
    this.#home = createLocalJWKSet(options.keys);
    this.#foreign = options.keysOf && new KeyCache(options.keysOf, options.cache);
    this.#allow = options.allowDomains && new Set(options.allowDomains);
    this.#maxAge = options.maxTokenAgeSeconds ?? 86_400;
  }

  /**
   * The user address `token` proves.
   *
   * @throws ProtoflyError `PF_ERR_AUTH` (malformed, expired, wrong audience, bad signature),
   *   `PF_ERR_FORBIDDEN` (the issuer's domain is not admitted), `PF_ERR_FETCH` (the issuer's
   *   keys cannot be had now: worth trying again later).
   */
  async verify(token: string): Promise<string> {
    const { payload, kid } = decode(token);
    const issuer = payload.iss;
    const subject = payload.sub;
    if (typeof issuer !== 'string' || typeof subject !== 'string') {
      throw authError('token has no iss or no sub');
    }
    if (!isUserOf(subject, issuer))
      throw authError(`token from ${issuer} names sub '${subject}', not one of its users`);
    const audience = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (!audience.includes(this.domain)) {
      throw authError(
        `token for ${subject} is for audience ${JSON.stringify(payload.aud)}, not ${this.domain}`,
      );
    }
    const keys = await this.#keysFor(issuer, kid);
    try {
      await jwtVerify(token, keys, {
        issuer,
        audience: this.domain,
        algorithms: TOKEN_ALGORITHMS,
        requiredClaims: ['exp', 'iat', 'sub'],
        maxTokenAge: this.#maxAge,
        clockTolerance: 5,
      });
    } catch (err) {
      throw authError(`token for ${subject} from ${issuer}: ${(err as Error).message}`, err);
    }
    return subject;
  }

  async #keysFor(issuer: string, kid: string | undefined): Promise<JWTVerifyGetKey> {
    if (issuer === this.domain) return this.#home;
    if (!this.#foreign || (this.#allow && !this.#allow.has(issuer))) {
      throw new ProtoflyError('PF_ERR_FORBIDDEN', `users of ${issuer} are not admitted by ${this.domain}`, {
        domain: issuer,
      });
    }
    try {
      return await this.#foreign.keySet(issuer, kid);
    } catch (err) {
      if (isProtoflyError(err, 'PF_ERR_FETCH')) throw err;
      // Keys that came but are unusable make the token unverifiable, not the service unavailable.
      throw authError(`keys of ${issuer}: ${(err as Error).message}`, err);
    }
  }
}

function decode(token: string): { payload: JWTPayload; kid: string | undefined } {
  try {
    return { payload: decodeJwt(token), kid: decodeProtectedHeader(token).kid };
  } catch (err) {
    throw authError(`token '${token.slice(0, 12)}...' is not a JWT`, err);
  }
}

function isUserOf(address: string, domain: string): boolean {
  try {
    const parsed = parseAddress(address);
    return parsed.scheme === 'user' && parsed.domain === domain;
  } catch {
    return false;
  }
}

function authError(message: string, cause?: unknown): ProtoflyError {
  return new ProtoflyError('PF_ERR_AUTH', message, {}, { cause });
}
