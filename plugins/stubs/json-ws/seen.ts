/**
 * The keys of the last `capacity` messages received, to drop a duplicate: a message is resent
 * after a reconnect when its acknowledgement was lost, though it may have arrived.
 */
export class Seen {
  // A Set iterates in insertion order, so its first key is the oldest: no separate ring.
  readonly #keys = new Set<string>();

  constructor(readonly capacity: number) {}

  /** Records `key`; false if it was recorded already (a duplicate). */
  add(key: string): boolean {
    if (this.#keys.has(key)) return false;
    if (this.#keys.size >= this.capacity) this.#keys.delete(this.#keys.values().next().value!);
    this.#keys.add(key);
    return true;
  }
}
