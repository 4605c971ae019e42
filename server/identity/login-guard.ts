import { ProtoflyError } from '../../core/errors.js';
import { TokenBucket } from '../services/token-bucket.js';

/**
 * What bounds guessing at a token endpoint, per key (`user:<name>`, `address:<ip>`): a request
 * rate (token bucket) and a lock-out after repeated failed log-ins. State is in this process's
 * memory, bounded: keys are forgotten oldest first past `maxKeys`.
 */
export interface LoginGuardOptions {
  /** Failed log-ins in a row that lock a key out. Default 5. */
  readonly maxFailures?: number;
  /** How long a lock-out lasts, in ms. Default 15 minutes. */
  readonly lockoutMs?: number;
  /** Requests a second per key, and the burst. Default 1 a second, burst 10. */
  readonly rate?: number;
  readonly burst?: number;
  /** Keys remembered at most. Default 100 000. */
  readonly maxKeys?: number;
  /** The clock, in ms since the epoch. Default `Date.now`. */
  readonly now?: () => number;
}

interface KeyState {
  readonly bucket: TokenBucket;
  failures: number;
  lockedUntil: number;
}

export class LoginGuard {
  readonly #maxFailures: number;
  readonly #lockoutMs: number;
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  readonly #keys = new Map<string, KeyState>();

  constructor(options: LoginGuardOptions = {}) {
    this.#maxFailures = options.maxFailures ?? 5;
    this.#lockoutMs = options.lockoutMs ?? 15 * 60_000;
    this.#rate = options.rate ?? 1;
    this.#burst = options.burst ?? 10;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Admits one request for `keys`, counting it against each key's rate.
   *
   * @throws ProtoflyError `PF_ERR_LOCKED` while a key is locked out, `PF_ERR_FLOOD` over a key's rate;
   *   `detail.retryAfterSeconds` says when to ask again.
   */
  admit(keys: readonly string[]): void {
    const now = this.#now();
    for (const key of keys) {
      const state = this.#keys.get(key);
      if (state && state.lockedUntil > now) {
        throw new ProtoflyError('PF_ERR_LOCKED', `${key}: locked out after repeated failed log-ins`, {
          key,
          retryAfterSeconds: Math.ceil((state.lockedUntil - now) / 1000),
        });
      }
    }
    for (const key of keys) {
      if (!this.#state(key, now).bucket.take(now)) {
        throw new ProtoflyError('PF_ERR_FLOOD', `${key}: over ${this.#rate} log-in requests a second`, {
          key,
          retryAfterSeconds: Math.ceil(1 / this.#rate),
        });
      }
    }
  }

  /** A failed log-in: each key that reaches `maxFailures` failures in a row is locked out. */
  failed(keys: readonly string[]): void {
    const now = this.#now();
    for (const key of keys) {
      const state = this.#state(key, now);
      state.failures += 1;
      if (state.failures >= this.#maxFailures) {
        state.failures = 0;
        state.lockedUntil = now + this.#lockoutMs;
      }
    }
  }

  /** A successful log-in clears the user's failures (not the address's: one good account must not hide guessing at others). */
  succeeded(key: string): void {
    const state = this.#keys.get(key);
    if (state) state.failures = 0;
  }

  #state(key: string, now: number): KeyState {
    let state = this.#keys.get(key);
    if (state) {
      // Most recently used last, so that the oldest are forgotten first.
      this.#keys.delete(key);
    } else {
      state = { bucket: new TokenBucket(this.#rate, this.#burst, now), failures: 0, lockedUntil: 0 };
      if (this.#keys.size >= this.#maxKeys) this.#keys.delete(this.#keys.keys().next().value!);
    }
    this.#keys.set(key, state);
    return state;
  }
}
