import { createLocalJWKSet, type JWTVerifyGetKey } from 'jose';
import { ProtoflyError } from '../../core/errors.js';
import type { KeysOf } from '../../server/services/keys-of.js';
import { TokenBucket } from '../../server/services/token-bucket.js';

export interface KeyCacheOptions {
  /** Milliseconds a fetched key set is used before it is fetched again. Default 10 minutes. */
  readonly maxAgeMs?: number;
  /**
   * Milliseconds after a fetch during which the same domain is not fetched again, even for
   * an unknown key id or after a failure (which is remembered that long). Default 30 s.
   */
  readonly cooldownMs?: number;
  /** Fetches per minute across all domains; tokens naming many domains cannot make more. Default 60. */
  readonly fetchesPerMinute?: number;
  /** Domains remembered at most; the oldest is forgotten first. Default 1000. */
  readonly maxDomains?: number;
}

interface Entry {
  fetchedAt: number;
  keys?: JWTVerifyGetKey;
  kids?: ReadonlySet<string>;
  error?: unknown;
  pending?: Promise<JWTVerifyGetKey>;
}

/**
 * Foreign domains' key sets, fetched through a {@link KeysOf} on demand and kept: at most one
 * fetch per domain at a time, none within the cooldown, and a bounded rate overall, so that
 * tokens from unknown or unreachable domains cannot turn the node into a request amplifier.
 */
export class KeyCache {
  readonly #keysOf: KeysOf;
  readonly #entries = new Map<string, Entry>();
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #maxDomains: number;
  readonly #fetches: TokenBucket;

  constructor(keysOf: KeysOf, options: KeyCacheOptions = {}) {
    this.#keysOf = keysOf;
    this.#maxAgeMs = options.maxAgeMs ?? 10 * 60_000;
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    this.#maxDomains = options.maxDomains ?? 1000;
    const perMinute = options.fetchesPerMinute ?? 60;
    this.#fetches = new TokenBucket(perMinute / 60, perMinute);
  }

  /**
   * The key set of `domain`, as a jose key resolver; fetched again when stale, or when it
   * lacks `kid` (the domain may have rotated) and the cooldown has passed.
   *
   * @throws ProtoflyError `PF_ERR_FETCH` when the keys cannot be had now (unreachable, or
   *   over the fetch rate), or the error of a failed fetch within its cooldown.
   */
  async keySet(domain: string, kid?: string): Promise<JWTVerifyGetKey> {
    const now = performance.now();
    const entry = this.#entries.get(domain);
    if (entry?.pending) return entry.pending;
    if (entry) {
      const known = entry.keys && (kid === undefined || entry.kids?.has(kid));
      if (known && now - entry.fetchedAt < this.#maxAgeMs) return entry.keys!;
      if (now - entry.fetchedAt < this.#cooldownMs) {
        if (entry.keys) return entry.keys; // an unknown kid then fails verification, as it should
        throw entry.error;
      }
    }
    if (!this.#fetches.take(now)) {
      throw new ProtoflyError('PF_ERR_FETCH', `keys of ${domain} not fetched: over the key fetch rate`, {
        domain,
      });
    }
    return this.#fetch(domain, now);
  }

  #fetch(domain: string, now: number): Promise<JWTVerifyGetKey> {
    const entry: Entry = { fetchedAt: now };
    entry.pending = this.#keysOf(domain).then(
      (jwks) => {
        entry.keys = createLocalJWKSet(jwks);
        entry.kids = new Set(jwks.keys.map((k) => k.kid));
        entry.pending = undefined;
        return entry.keys;
      },
      (err: unknown) => {
        entry.error = err;
        entry.pending = undefined;
        throw err;
      },
    );
    this.#entries.delete(domain); // re-insert: Map order is then age order
    this.#entries.set(domain, entry);
    if (this.#entries.size > this.#maxDomains) this.#entries.delete(this.#entries.keys().next().value!);
    return entry.pending;
  }
}
