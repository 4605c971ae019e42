import type { KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { parseAddress, userAddress } from '../../../core/address.js';
import { ProtoflyError } from '../../../core/errors.js';
import type { Ed25519Jwk, Jwks } from '../../../core/generated/types.js';
import type { KeysOf } from '../../../server/services/keys-of.js';
import type { Identity } from '../../../server/services/service.js';
import type { KeyCacheOptions } from './key-cache.js';
import { hashPassword, verifyPassword } from './password.js';
import { TokenVerifier } from './token-verifier.js';
import { UserStore } from './user-store.js';
import type { Users } from './users-file.js';

/** The key a domain signs its users' tokens with (a catalogue `DomainKey` fits). */
export interface SigningKey {
  readonly privateKey: KeyObject | CryptoKey;
  readonly publicJwk: Ed25519Jwk;
}

export interface StaticIdentityOptions {
  readonly domain: string;
  readonly key: SigningKey;
  /** The domain's published key set, which must hold `key`'s public JWK. Default: that key alone. */
  readonly keys?: Jwks;
  /** The users: a store over a users file, or a map kept in memory. */
  readonly users: UserStore | Users;
  /** Default token lifetime in seconds. Default 3600. */
  readonly ttlSeconds?: number;
  /** Finds foreign domains' keys; without it only this domain's users are admitted. */
  readonly keysOf?: KeysOf;
  /** Foreign domains admitted; all whose keys verify when absent. */
  readonly allowDomains?: readonly string[];
  readonly cache?: KeyCacheOptions;
}

/** Checked for unknown users so that timing does not tell who exists. */
let nobody: Promise<string> | undefined;
function nobodysHash(): Promise<string> {
  nobody ??= hashPassword('');
  return nobody;
}

/**
 * The {@link Identity} service over a static users file: checks passwords, issues its users
 * Ed25519-signed JWTs, and verifies tokens from its own and (through `keysOf`) foreign domains.
 * Its users directory changes the file (`protofly users`, provisioning).
 */
export class StaticIdentity implements Identity {
  readonly domain: string;
  /** The public keys to publish at `/.well-known/protofly/keys`. */
  readonly keys: Jwks;
  readonly #key: SigningKey;
  readonly users: UserStore;
  readonly #ttl: number;
  readonly #verifier: TokenVerifier;

  constructor(options: StaticIdentityOptions) {
    this.domain = options.domain;
    this.#key = options.key;
    this.keys = options.keys ?? { keys: [options.key.publicJwk] };
    if (!this.keys.keys.some((k) => k.kid === options.key.publicJwk.kid)) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `identity of ${this.domain}: signing key ${options.key.publicJwk.kid} is not in the published keys`,
      );
    }
    this.users = options.users instanceof UserStore ? options.users : new UserStore({ users: options.users });
    this.#ttl = options.ttlSeconds ?? 3600;
    this.#verifier = new TokenVerifier({ ...options, keys: this.keys });
  }

  async authenticate(name: string, password: string): Promise<string | undefined> {
    const user = await this.users.entry(name);
    const ok = await verifyPassword(password, user?.hash ?? (await nobodysHash()));
    return ok && user && !user.disabled ? userAddress(this.domain, name) : undefined;
  }

  async active(address: string): Promise<boolean> {
    const parsed = parseAddress(address);
    if (parsed.scheme !== 'user' || parsed.domain !== this.domain) return false;
    const user = await this.users.entry(parsed.path[0]!);
    return user !== undefined && !user.disabled;
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
        {
          address,
        },
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

  verify(token: string): Promise<string> {
    return this.#verifier.verify(token);
  }
}
