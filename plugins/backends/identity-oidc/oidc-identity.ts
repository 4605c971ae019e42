import type { JWTPayload } from 'jose';
import { userAddress } from '../../../core/address.js';
import { ProtoflyError } from '../../../core/errors.js';
import type { Jwks } from '../../../core/generated/types.js';
import type { CodeGrant, Identity } from '../../../server/services/service.js';
import { DomainTokens, type DomainTokensOptions } from '../domain-tokens.js';
import { type IdTokenExpectations, verifyIdToken } from './id-token.js';
import type { OidcProvider } from './provider.js';

/** Which claim of the ID token names the user here. */
export type UserClaim = 'preferred_username' | 'email' | 'sub';

export interface OidcIdentityOptions extends DomainTokensOptions {
  readonly provider: OidcProvider;
  readonly clientId: string;
  readonly claim: UserClaim;
  /** With `claim: 'email'`: the one email domain whose local parts are user names here. */
  readonly emailDomain?: string;
  readonly idToken: Omit<IdTokenExpectations, 'issuer' | 'clientId' | 'nonce'>;
  /** Seconds after a log-in at the provider during which refreshes need no new one. Default 12 hours. */
  readonly reauthenticateSeconds?: number;
}

/** Users whose last log-in is remembered at most; the oldest is forgotten first (and must log in again). */
const MAX_REMEMBERED = 100_000;

/**
 * The {@link Identity} service of a domain whose users log in at an OpenID Connect provider:
 * an authorization code (with its PKCE verifier and nonce) is redeemed there, its ID token
 * verified and mapped, by one configured claim, to a user of this domain, who then gets this
 * domain's own tokens (as identity-static issues them). No passwords are checked here and no
 * directory is kept: the provider's accounts are the users.
 *
 * The provider cannot be asked whether a user is still allowed without a log-in there, so a
 * refresh (`active`) is allowed only within `reauthenticateSeconds` of the user's last log-in
 * at the provider, remembered in this process: a user the provider disables or removes loses
 * access by then at the latest.
 */
export class OidcIdentity implements Identity {
  readonly domain: string;
  readonly #tokens: DomainTokens;
  readonly #provider: OidcProvider;
  readonly #options: OidcIdentityOptions;
  readonly #reauthenticateMs: number;
  /** Address → when it last logged in at the provider, ms since the epoch; oldest first. */
  readonly #logins = new Map<string, number>();

  /** @throws ProtoflyError `PF_ERR_CONFIG` for the email claim without an email domain. */
  constructor(options: OidcIdentityOptions) {
    if (options.claim === 'email' && !options.emailDomain) {
      throw new ProtoflyError(
        'PF_ERR_CONFIG',
        `identity-oidc of ${options.domain}: claim 'email' needs emailDomain (local parts of other domains would collide)`,
      );
    }
    this.domain = options.domain;
    this.#tokens = new DomainTokens(options);
    this.#provider = options.provider;
    this.#options = options;
    this.#reauthenticateMs = (options.reauthenticateSeconds ?? 43_200) * 1000;
  }

  /** The public keys to publish at `/.well-known/protofly/keys`. */
  get keys(): Jwks {
    return this.#tokens.keys;
  }

  /** Passwords are the provider's: none is ever right here. */
  async authenticate(): Promise<string | undefined> {
    return undefined;
  }

  async exchange(grant: CodeGrant): Promise<string> {
    const token = await this.#provider.redeem(grant);
    const claims = await verifyIdToken(token, await this.#provider.keys(), {
      ...this.#options.idToken,
      issuer: this.#provider.issuer,
      clientId: this.#options.clientId,
      nonce: grant.nonce,
    });
    const address = this.#addressOf(claims);
    this.#logins.delete(address); // re-inserted: Map order is then age order
    this.#logins.set(address, Date.now());
    if (this.#logins.size > MAX_REMEMBERED) this.#logins.delete(this.#logins.keys().next().value!);
    return address;
  }

  async active(address: string): Promise<boolean> {
    const at = this.#logins.get(address);
    return at !== undefined && Date.now() - at < this.#reauthenticateMs;
  }

  issue(address: string, ttlSeconds?: number, audience?: string): Promise<string> {
    return this.#tokens.issue(address, ttlSeconds, audience);
  }

  verify(token: string): Promise<string> {
    return this.#tokens.verify(token);
  }

  /** The user the verified claims name, by the configured claim. */
  #addressOf(claims: JWTPayload): string {
    const { claim, emailDomain } = this.#options;
    const value = claims[claim];
    let name = typeof value === 'string' ? value : undefined;
    if (name !== undefined && claim === 'email') {
      const at = name.lastIndexOf('@');
      // An unverified address proves nothing; one of another domain is someone else's local part.
      const ours = at > 0 && name.slice(at + 1).toLowerCase() === emailDomain!.toLowerCase();
      name = claims.email_verified === true && ours ? name.slice(0, at) : undefined;
    }
    try {
      if (name !== undefined) return userAddress(this.domain, name);
    } catch {
      // Not a user name here: refused below.
    }
    throw new ProtoflyError(
      'PF_ERR_AUTH',
      `the provider's user ${JSON.stringify(claims.sub)} maps to no user of ${this.domain} by its ${claim}${claim === 'email' ? ` (verified, at ${emailDomain})` : ''}`,
      { claim },
    );
  }
}
