/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. One per connection for
 * messages, one per process for key fetches. Refills lazily on `take`, so an idle bucket
 * costs nothing and needs no timer.
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
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.rate) / 1000);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
