/** A token bucket: `perSecond` on average, bursts up to `burst`. */
export class RateLimit {
  #tokens: number;
  #last = performance.now();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {
    this.#tokens = burst;
  }

  /** Takes `n` tokens; false, and nothing taken, when fewer are left. */
  take(n = 1): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) * this.perSecond) / 1000);
    this.#last = now;
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }
}
