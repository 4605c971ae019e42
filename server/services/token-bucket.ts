/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. One per connection for
 * messages and one for the bytes it sends, one per process for key fetches. Refills lazily on
 * `take` and `charge`, so an idle bucket costs nothing and needs no timer.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  /**
   * @param rate - tokens added per second
   * @param burst - most tokens held at once; the bucket starts full
   */
  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number = performance.now(),
  ) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token if there is one. `now` is in milliseconds, on `performance.now()`'s clock. */
  take(now: number = performance.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * Takes `n` tokens whatever is held, running into debt (what was used cannot be refused):
   * returns the milliseconds until the debt is repaid, 0 when there is none.
   */
  charge(n: number, now: number = performance.now()): number {
    this.#refill(now);
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens * 1000) / this.rate;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
  }
}
