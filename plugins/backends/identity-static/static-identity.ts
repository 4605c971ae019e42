import { parseAddress, userAddress } from '../../../core/address.js';
import type { Jwks } from '../../../core/generated/types.js';
import type { Identity } from '../../../server/services/service.js';
import { DomainTokens, type DomainTokensOptions, type SigningKey } from '../domain-tokens.js';
import { hashPassword, verifyPassword } from './password.js';
import { UserStore } from './user-store.js';
import type { Users } from './users-file.js';

export type { SigningKey };

export interface StaticIdentityOptions extends DomainTokensOptions {
  /** The users: a store over a users file, or a map kept in memory. */
  readonly users: UserStore | Users;
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
  readonly users: UserStore;
  readonly #tokens: DomainTokens;

  constructor(options: StaticIdentityOptions) {
    this.domain = options.domain;
    this.#tokens = new DomainTokens(options);
    this.users = options.users instanceof UserStore ? options.users : new UserStore({ users: options.users });
  }

  /** The public keys to publish at `/.well-known/protofly/keys`. */
  get keys(): Jwks {
    return this.#tokens.keys;
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

  issue(address: string, ttlSeconds?: number, audience?: string): Promise<string> {
    return this.#tokens.issue(address, ttlSeconds, audience);
  }

  verify(token: string): Promise<string> {
    return this.#tokens.verify(token);
  }
}
