/**
 * Credit-based flow control for one direction of one session on the channel (see
 * `channel.ts`): the sender takes credit for every frame and gets it back when the receiver
 * acknowledges; the receiver acknowledges once per half window, so a steady stream costs one
 * ack per half window and a sender that stops holds less than half a window forever.
 */
export class Credit {
  #inFlight = 0;
  #unacked = 0;

  constructor(readonly windowBytes: number) {}

  /** Sender side: reserves `cost`; false when that would go over the window (the frame must not be sent). */
  take(cost: number): boolean {
    if (this.#inFlight + cost > this.windowBytes) return false;
    this.#inFlight += cost;
    return true;
  }

  /**
   * Sender side, for what cannot be refused (data already read from a socket): takes `cost`
   * whatever the window; the source should pause while {@link inFlight} is over it.
   */
  charge(cost: number): void {
    this.#inFlight += cost;
  }

  /** Sender side: the receiver acknowledged `bytes`. */
  release(bytes: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - bytes);
  }

  /** Sender side: credit in use. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Receiver side: counts a processed frame; returns the bytes to acknowledge now, or 0. */
  consume(cost: number): number {
    this.#unacked += cost;
    if (this.#unacked * 2 < this.windowBytes) return 0;
    const bytes = this.#unacked;
    this.#unacked = 0;
    return bytes;
  }
}
