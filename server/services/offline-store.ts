import { ProtoflyError } from '../../core/errors.js';
import type { Frame, HoldLimits } from './service.js';

interface Stored {
  readonly frame: Frame;
  readonly expires: number;
}

/**
 * Frames for addresses with no connected session, kept in memory (bounded per address and in
 * all, with expiry) until a session of theirs appears: the held frames of a one-process
 * cluster. A restart loses them, which is why senders only drop a message from their resend
 * queue when it is acknowledged.
 */
export class OfflineStore {
  readonly #byAddress = new Map<string, Stored[]>();
  readonly #total: number;
  #size = 0;

  /** @param total - frames kept in all */
  constructor(total: number) {
    this.#total = total;
  }

  /** Frames held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Keeps `frame` for `address`, at most `limits.perAddress` of them for `limits.ttlMs`.
   *
   * @throws ProtoflyError `PF_ERR_QUEUE_FULL` when the address or the store is at its bound.
   */
  put(address: string, frame: Frame, now: number, limits: HoldLimits): void {
    let list = this.#byAddress.get(address);
    if (list && list.length >= limits.perAddress) {
      list = this.#unexpired(address, list, now);
      if (list.length >= limits.perAddress) {
        throw new ProtoflyError(
          'PF_ERR_QUEUE_FULL',
          `${address} is offline with ${list.length} messages waiting (the most kept per address)`,
          { address, limit: limits.perAddress },
        );
      }
    }
    if (this.#size >= this.#total) {
      throw new ProtoflyError(
        'PF_ERR_QUEUE_FULL',
        `offline store holds ${this.#size} messages (its bound); not kept for ${address}`,
        { address, limit: this.#total },
      );
    }
    const entry = { frame, expires: now + limits.ttlMs };
    // An emptied list was taken out of the map: start a new one.
    if (list?.length) list.push(entry);
    else this.#byAddress.set(address, [entry]);
    this.#size++;
  }

  /** Removes and returns the unexpired frames for `address`, oldest first. */
  take(address: string, now: number): Frame[] {
    const list = this.#byAddress.get(address);
    if (!list) return [];
    const live = this.#unexpired(address, list, now);
    this.#byAddress.delete(address);
    this.#size -= live.length;
    return live.map((s) => s.frame);
  }

  /** Drops every expired frame. */
  sweep(now: number): void {
    for (const [address, list] of this.#byAddress) this.#unexpired(address, list, now);
  }

  /** Drops the expired head of an address's list (entries of one address share a ttl, so they are in expiry order). */
  #unexpired(address: string, list: Stored[], now: number): Stored[] {
    let n = 0;
    while (n < list.length && list[n]!.expires <= now) n++;
    if (n === 0) return list;
    this.#size -= n;
    const rest = list.slice(n);
    if (rest.length) this.#byAddress.set(address, rest);
    else this.#byAddress.delete(address);
    return rest;
  }
}
