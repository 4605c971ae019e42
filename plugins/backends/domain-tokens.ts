import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { parseAddress } from '../../core/address.js';
import { ProtoflyError } from '../../core/errors.js';
import type { Ed25519Jwk, Jwks } from '../../core/generated/types.js';
import type { KeysOf } from '../../server/services/keys-of.js';
import type { KeyCacheOptions } from './key-cache.js';
import { TokenVerifier } from './token-verifier.js';

/** The key a domain signs its users' tokens with (a catalogue `DomainKey` fits). */
export interface SigningKey {
  readonly privateKey: KeyObject | CryptoKey;
  readonly publicJwk: Ed25519Jwk;
}

export interface DomainTokensOptions {
  readonly domain: string;
  readonly key: SigningKey;
  /** The domain's published key set, which must hold `key`'s public JWK. Default: that key alone. */
  readonly keys?: Jwks;
  /** Default token lifetime in seconds. Default 3600. */
  readonly ttlSeconds?: number;
  /** Finds foreign domains' keys; without it only this domain's users are admitted. */
  readonly keysOf?: KeysOf;
  /** Foreign domains admitted; all whose keys verify when absent. */
  readonly allowDomains?: readonly string[];
  readonly cache?: KeyCacheOptions;
}

/**
 * A domain's identity tokens, whoever checked its users (a password, an OpenID Connect
 * provider): issues Ed25519 JWTs for its own users and verifies tokens from its own and
 * (through `keysOf`) foreign domains.
 */
export class DomainTokens {
  readonly domain: string;
  /** The public keys to publish at `/.well-known/protofly/keys`. */
  readonly keys: Jwks;
  readonly #key: SigningKey;
  readonly #ttl: number;
  readonly #verifier: TokenVerifier;

  /** @throws ProtoflyError `PF_ERR_CONFIG` when `key` is not among `keys`. */
  constructor(options: DomainTokensOptions) {
    this.domain = options.domain;
    this.#key = options.key;
    this.keys = options.keys ?? { keys: [options.key.publicJwk] };
    if (!this.keys.keys.some((k) => k.kid === options.key.publicJwk.kid)) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `identity of ${this.domain}: signing key ${options.key.publicJwk.kid} is not in the published keys`,
      );
    }
    this.#ttl = options.ttlSeconds ?? 3600;
    this.#verifier = new TokenVerifier({ ...options, keys: this.keys });
  }

  /**
   * A token for `address`, a user of this domain.
   *
   * @param audience - the domain whose messaging node will check it; default this domain.
   * @throws ProtoflyError `PF_ERR_FORBIDDEN` when `address` is not a user of this domain.
   */
  async issue(address: string, ttlSeconds = this.#ttl, audience = this.domain): Promise<string> {
    const parsed = parseAddress(address);
    if (parsed.scheme !== 'user' || parsed.domain !== this.domain) {
      throw new ProtoflyError(
        'PF_ERR_FORBIDDEN',
        `${this.domain} issues tokens for its own users, not ${address}`,
        { address },
      );
    }
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid: this.#key.publicJwk.kid, typ: 'JWT' })
      .setIssuer(this.domain)
      .setSubject(address)
      .setAudience(audience)
      .setIssuedAt(now)
      .setExpirationTime(now + ttlSeconds)
      .sign(this.#key.privateKey);
  }

  /** The address `token` proves; see {@link TokenVerifier.verify}. */
  verify(token: string): Promise<string> {
    return this.#verifier.verify(token);
  }
}
