import type { Message } from '../../../core/message.js';

/** A message on its way to the node, framed once (the same text is resent after a reconnect). */
export interface Outgoing {
  readonly msg: Message;
  readonly frame: string;
  /**
   * Sent on the current socket and not yet answered: the Outbox alone sets it (created false).
   * A flag on the entry rather than a Set of entries: the Set's table, long-lived and refilled
   * with each new entry, kept every message alive past a garbage collection and doubled what was
   * promoted (measured with bench/node.bench.ts's stub path).
   */
  onWire: boolean;
}

/**
 * Messages not yet acknowledged by the node, in send order, each on the wire or waiting to go.
 * The node answers each message with one `ack` or one `err` naming its id, in order, so the one
 * settled is nearly always the first. A message given back ({@link giveBack}) stays where it
 * was: sent again, it goes before every later one, so a refused run keeps its order.
 */
export class Outbox<E extends Outgoing> {
  readonly #entries: E[] = [];
  /** How many entries are on the wire. */
  #inFlight = 0;
  /** Every entry before this index is on the wire. */
  #cursor = 0;

  /** Messages held, sent or not. */
  get size(): number {
    return this.#entries.length;
  }

  /** Messages on the wire, waiting for their answer. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Every entry held, in send order. */
  get entries(): readonly E[] {
    return this.#entries;
  }

  push(entry: E): void {
    this.#entries.push(entry);
  }

  /** The first entry not on the wire, if any and if fewer than `window` are in flight. */
  next(window: number): E | undefined {
    if (this.#inFlight >= window) return undefined;
    while (this.#cursor < this.#entries.length && this.#entries[this.#cursor]!.onWire) this.#cursor++;
    return this.#entries[this.#cursor];
  }

  /** The entry {@link next} returned went on the wire. */
  sent(): void {
    this.#entries[this.#cursor++]!.onWire = true;
    this.#inFlight++;
  }

  /** The first entry on the wire with message id `id`, if any. */
  onWire(id: string): E | undefined {
    const i = this.#indexOnWire(id);
    return i < 0 ? undefined : this.#entries[i];
  }

  /** Takes out the first entry on the wire with message id `id`: the node acknowledged or refused it. */
  settle(id: string): E | undefined {
    const i = this.#indexOnWire(id);
    if (i < 0) return undefined;
    const [entry] = this.#entries.splice(i, 1);
    entry!.onWire = false;
    this.#inFlight--;
    if (i < this.#cursor) this.#cursor--;
    return entry;
  }

  /** The node refused the entry on the wire with message id `id` for now: it goes again, in its place. */
  giveBack(id: string): E | undefined {
    const i = this.#indexOnWire(id);
    if (i < 0) return undefined;
    const entry = this.#entries[i]!;
    entry.onWire = false;
    this.#inFlight--;
    this.#cursor = Math.min(this.#cursor, i);
    return entry;
  }

  /** Takes out the entry with message id `id` if it is not on the wire (withdrawn before it was sent). */
  take(id: string): E | undefined {
    const i = this.#entries.findIndex((e) => e.msg.id === id);
    if (i < 0 || this.#entries[i]!.onWire) return undefined;
    const [entry] = this.#entries.splice(i, 1);
    if (i < this.#cursor) this.#cursor--;
    return entry;
  }

  /**
   * The socket is gone: whatever was in flight is sent again on the next one, after `first`
   * (entries taken out earlier that must go again before everything held).
   */
  rewind(first: readonly E[] = []): void {
    for (const e of this.#entries) e.onWire = false;
    this.#inFlight = 0;
    this.#cursor = 0;
    if (first.length > 0) this.#entries.unshift(...first);
  }

  /** Takes out everything. */
  clear(): E[] {
    this.rewind();
    return this.#entries.splice(0);
  }

  #indexOnWire(id: string): number {
    // Stops after the last entry on the wire: an unknown id costs at most a window's worth.
    for (let i = 0, seen = 0; seen < this.#inFlight && i < this.#entries.length; i++) {
      const e = this.#entries[i]!;
      if (!e.onWire) continue;
      if (e.msg.id === id) return i;
      seen++;
    }
    return -1;
  }
}
