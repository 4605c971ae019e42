import { ProtoflyError } from '../../core/errors.js';

interface Stored {
  readonly frame: Buffer;
  readonly expires: number;
}

export interface OfflineStoreLimits {
  /** Messages kept per address. */
  readonly perAddress: number;
  /** Messages kept in all. */
  readonly total: number;
  /** Milliseconds a message is kept. */
  readonly ttlMs: number;
}

/**
 * Messages for addresses with no connected session, kept (bounded, with expiry) until a
 * session of theirs appears. In memory: a node restart loses them, which is why senders
 * only drop a message from their resend queue when it is acknowledged.
 */
export class OfflineStore {
  readonly #byAddress = new Map<string, Stored[]>();
  readonly #limits: OfflineStoreLimits;
  #size = 0;

  constructor(limits: OfflineStoreLimits) {
    this.#limits = limits;
  }

  /** Messages held now. */
  get size(): number {
    return this.#size;
  }

  /**
   * Keeps an encoded `msg` frame for `address`.
   *
   * @throws ProtoflyError `PF_ERR_QUEUE_FULL` when the address or the store is at its bound.
   */
  put(address: string, frame: Buffer, now: number): void {
    let list = this.#byAddress.get(address);
    if (list && list.length >= this.#limits.perAddress) {
      list = this.#unexpired(address, list, now);
      if (list.length >= this.#limits.perAddress) {
        throw new ProtoflyError(
          'PF_ERR_QUEUE_FULL',
          `${address} is offline with ${list.length} messages waiting (the most kept per address)`,
          { address, limit: this.#limits.perAddress },
        );
      }
    }
    if (this.#size >= this.#limits.total) {
      throw new ProtoflyError(
        'PF_ERR_QUEUE_FULL',
        `offline store holds ${this.#size} messages (its bound); not kept for ${address}`,
        { address, limit: this.#limits.total },
      );
    }
    const entry = { frame, expires: now + this.#limits.ttlMs };
    // An emptied list was taken out of the map: start a new one.
    if (list?.length) list.push(entry);
    else this.#byAddress.set(address, [entry]);
    this.#size++;
  }

  /** Removes and returns the unexpired messages for `address`, oldest first. */
  take(address: string, now: number): Buffer[] {
    const list = this.#byAddress.get(address);
    if (!list) return [];
    const live = this.#unexpired(address, list, now);
    this.#byAddress.delete(address);
    this.#size -= live.length;
    return live.map((s) => s.frame);
  }

  /** Drops every expired message. */
  sweep(now: number): void {
    for (const [address, list] of this.#byAddress) this.#unexpired(address, list, now);
  }

  /** Drops the expired head of an address's list (entries are in expiry order). */
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
