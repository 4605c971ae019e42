import { createHash, randomBytes } from 'node:crypto';
import { ProtoflyError } from '../../core/errors.js';

/**
 * Rotating refresh tokens (RFC 6749 §6, with the reuse detection of RFC 9700 §4.14.2): each use
 * of a refresh token spends it and gives a new one of the same family; a spent token used again
 * means it was copied, so its whole family is revoked. Tokens are opaque random strings; only
 * their SHA-256 is kept, in this process's memory (bounded, oldest forgotten first), so a
 * refresh reaches only the process that issued the token: another one refuses it and the
 * client logs in again.
 */
export interface RefreshTokensOptions {
  /** A refresh token's lifetime in ms. Default 24 hours. */
  readonly ttlMs?: number;
  /** Tokens remembered at most. Default 100 000. */
  readonly maxTokens?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

interface Entry {
  readonly address: string;
  readonly family: string;
  readonly expires: number;
  spent: boolean;
}

export class RefreshTokens {
  readonly #ttlMs: number;
  readonly #maxTokens: number;
  readonly #now: () => number;
  /** By SHA-256 of the token. */
  readonly #tokens = new Map<string, Entry>();
  /** Hashes of each family's tokens, to revoke a family at once. */
  readonly #families = new Map<string, Set<string>>();

  constructor(options: RefreshTokensOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 24 * 3600_000;
    this.#maxTokens = options.maxTokens ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** A new refresh token for `address`, starting a family. */
  issue(address: string): string {
    return this.#add(address, randomBytes(16).toString('base64url'));
  }

  /**
   * Spends `token` and returns the address it was issued to and its successor.
   *
   * @throws ProtoflyError `PF_ERR_AUTH` for a token unknown, expired or spent (its family is then revoked).
   */
  rotate(token: string): { address: string; next: string } {
    const hash = hashOf(token);
    const entry = this.#tokens.get(hash);
    if (!entry) throw new ProtoflyError('PF_ERR_AUTH', 'refresh token unknown here, revoked or forgotten');
    if (entry.spent) {
      this.#revoke(entry.family);
      throw new ProtoflyError(
        'PF_ERR_AUTH',
        `refresh token of ${entry.address} used twice: every refresh token of that log-in is revoked`,
        { address: entry.address },
      );
    }
    if (entry.expires <= this.#now()) {
      this.#revoke(entry.family);
      throw new ProtoflyError('PF_ERR_AUTH', `refresh token of ${entry.address} expired`, {
        address: entry.address,
      });
    }
    // The family keeps its newest spent token, to catch its reuse, and its live successor.
    for (const member of [...(this.#families.get(entry.family) ?? [])]) {
      if (member !== hash) this.#forget(member);
    }
    entry.spent = true;
    return { address: entry.address, next: this.#add(entry.address, entry.family) };
  }

  /** Revokes the family of `token` (it failed a later check, e.g. its user is disabled). */
  revoke(token: string): void {
    const entry = this.#tokens.get(hashOf(token));
    if (entry) this.#revoke(entry.family);
  }

  #add(address: string, family: string): string {
    const token = randomBytes(32).toString('base64url');
    const hash = hashOf(token);
    if (this.#tokens.size >= this.#maxTokens) this.#forget(this.#tokens.keys().next().value!);
    this.#tokens.set(hash, { address, family, expires: this.#now() + this.#ttlMs, spent: false });
    let members = this.#families.get(family);
    if (!members) {
      members = new Set();
      this.#families.set(family, members);
    }
    members.add(hash);
    return token;
  }

  #forget(hash: string): void {
    const entry = this.#tokens.get(hash);
    if (!entry) return;
    this.#tokens.delete(hash);
    const members = this.#families.get(entry.family);
    members?.delete(hash);
    if (members?.size === 0) this.#families.delete(entry.family);
  }

  #revoke(family: string): void {
    for (const hash of this.#families.get(family) ?? []) this.#tokens.delete(hash);
    this.#families.delete(family);
  }
}

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}
