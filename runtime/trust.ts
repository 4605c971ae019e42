import { isProtoflyError, ProtoflyError } from '../core/errors.js';
import type { Ed25519Jwk, Jwks } from '../core/generated/types.js';
import { validateJwks } from '../core/generated/validators.js';
import { MemoryStore, type Store } from '../core/store.js';
import { assertValid } from '../core/validate.js';
import { importVerifyKey } from './signature.js';

/**
 * Which keys may sign for which domain.
 *
 * - `pinned`: only keys given in configuration, per domain.
 * - `tofu` (trust on first use): the first key set a domain publishes is recorded in the
 *   store and from then on enforced; a different key later is refused, not adopted.
 *
 * Pinned keys win over recorded ones in both modes.
 */
export interface TrustOptions {
  mode: 'pinned' | 'tofu';
  pinned?: Readonly<Record<string, readonly Ed25519Jwk[]>>;
  /** Where keys trusted on first use are recorded. Default: memory. */
  store?: Store;
}

/** A key that may verify signatures of a domain. */
export interface TrustedKey {
  readonly key: CryptoKey;
  /** `<domain>#<kid>`. */
  readonly id: string;
  /** How it came to be trusted. */
  readonly how: 'pinned' | 'recorded' | 'first-use';
  /** Marked as a development key in its JWK: only a development policy accepts what it signs. */
  readonly development: boolean;
}

export class TrustStore {
  readonly mode: 'pinned' | 'tofu';
  readonly #pinned: Readonly<Record<string, readonly Ed25519Jwk[]>>;
  readonly #store: Store;
  readonly #imported = new Map<string, Promise<CryptoKey>>();
  readonly #firstUse = new Map<string, Promise<readonly Ed25519Jwk[]>>();

  constructor(options: TrustOptions) {
    this.mode = options.mode;
    this.#pinned = options.pinned ?? {};
    this.#store = options.store ?? new MemoryStore();
  }

  /**
   * The trusted key `kid` of `domain`. `publishedKeys` fetches the domain's JWKS; it is only
   * called on first use, and must fetch from the domain's own catalogue (the loader's
   * `keysUrl(domain)`), never from wherever a descriptor came from: what it returns is recorded.
   *
   * @throws ProtoflyError `PF_ERR_UNTRUSTED_KEY` naming the domain and the key.
   */
  async keyFor(domain: string, kid: string, publishedKeys: () => Promise<unknown>): Promise<TrustedKey> {
    const pinned = this.#pinned[domain];
    if (pinned) return this.#pick(domain, kid, pinned, 'pinned', 'is not pinned for it');
    if (this.mode === 'pinned') {
      throw new ProtoflyError(
        'PF_ERR_UNTRUSTED_KEY',
        `no key is pinned for domain ${domain} (trust mode: pinned)`,
        {
          domain,
          kid,
        },
      );
    }
    const recorded = await this.#recorded(domain);
    if (recorded)
      return this.#pick(domain, kid, recorded, 'recorded', 'differs from the keys recorded on first use');
    const keys = await this.#recordFirstUse(domain, publishedKeys);
    return this.#pick(domain, kid, keys, 'first-use', "is not among the domain's published keys");
  }

  /**
   * Whether {@link keyFor} would fetch `domain`'s published keys now: nothing pinned for it in
   * trust-on-first-use mode, and nothing recorded (an unreadable record is no first use: keyFor
   * refuses it).
   */
  async firstUse(domain: string): Promise<boolean> {
    if (this.#pinned[domain] || this.mode === 'pinned') return false;
    return (await this.#recorded(domain).catch(() => [])) === undefined;
  }

  /** Forgets what was recorded for a domain, so its next key set is trusted on first use again. */
  async forget(domain: string): Promise<void> {
    await this.#store.delete(storeKey(domain));
  }

  /**
   * The keys recorded for `domain`, if any.
   *
   * @throws ProtoflyError `PF_ERR_UNTRUSTED_KEY` when the record is unreadable: the store is
   *   outside our control (a disk), and a damaged record must not turn into a new first use.
   */
  async #recorded(domain: string): Promise<readonly Ed25519Jwk[] | undefined> {
    const text = await this.#store.get(storeKey(domain));
    if (text === undefined) return undefined;
    let jwks: unknown;
    try {
      jwks = JSON.parse(text);
    } catch {
      jwks = undefined;
    }
    if (!validateJwks(jwks)) {
      throw new ProtoflyError(
        'PF_ERR_UNTRUSTED_KEY',
        `the keys recorded for domain ${domain} are unreadable (the store is damaged); forget the domain to trust its keys on first use again`,
        { domain },
      );
    }
    return (jwks as Jwks).keys;
  }

  /** Fetches and records a domain's keys once, even when several loads ask at the same time. */
  #recordFirstUse(domain: string, publishedKeys: () => Promise<unknown>): Promise<readonly Ed25519Jwk[]> {
    let pending = this.#firstUse.get(domain);
    if (!pending) {
      pending = (async () => {
        const jwks = await publishedKeys();
        assertValid(validateJwks, jwks, `keys of ${domain}`);
        await this.#store.set(storeKey(domain), JSON.stringify({ keys: jwks.keys }));
        return jwks.keys;
      })().finally(() => this.#firstUse.delete(domain));
      this.#firstUse.set(domain, pending);
    }
    return pending;
  }

  async #pick(
    domain: string,
    kid: string,
    keys: readonly Ed25519Jwk[],
    how: TrustedKey['how'],
    refusal: string,
  ): Promise<TrustedKey> {
    const jwk = keys.find((k) => k.kid === kid);
    if (!jwk) {
      throw new ProtoflyError('PF_ERR_UNTRUSTED_KEY', `key ${kid} of domain ${domain} ${refusal}`, {
        domain,
        kid,
        trusted: keys.map((k) => k.kid),
      });
    }
    const id = `${domain}#${kid}`;
    const cacheKey = `${id}#${jwk.x}`;
    let key = this.#imported.get(cacheKey);
    if (!key) {
      key = importVerifyKey(jwk);
      this.#imported.set(cacheKey, key);
    }
    try {
      return { key: await key, id, how, development: jwk.development === true };
    } catch (err) {
      // A platform that cannot verify Ed25519 at all says so itself (PF_ERR_SIGNATURE).
      if (isProtoflyError(err)) throw err;
      // The schema checks the shape; the platform may still refuse the point (browsers do).
      throw new ProtoflyError(
        'PF_ERR_UNTRUSTED_KEY',
        `key ${kid} of domain ${domain} is not a usable Ed25519 public key: ${(err as Error)?.message ?? String(err)}`,
        { domain, kid },
        { cause: err },
      );
    }
  }
}

function storeKey(domain: string): string {
  return `trust:${domain}`;
}
