import type { Message } from '../../../core/message.js';

/** A message on its way to the node, framed once (the same text is resent after a reconnect). */
export interface Outgoing {
  readonly msg: Message;
  readonly frame: string;
}

/**
 * Messages not yet acknowledged by the node, in send order: the first `inFlight` are on the
 * wire, the rest wait for room in the window. The node answers each message with one `ack` or
 * one `err` naming its id, in order, so the one settled is nearly always the first.
 */
export class Outbox<E extends Outgoing> {
  readonly #entries: E[] = [];
  #inFlight = 0;

  /** Messages held, sent or not. */
  get size(): number {
    return this.#entries.length;
  }

  /** Every entry held, in send order. */
  get entries(): readonly E[] {
    return this.#entries;
  }

  push(entry: E): void {
    this.#entries.push(entry);
  }

  /** The next entry to send, if any and if fewer than `window` are in flight. */
  next(window: number): E | undefined {
    return this.#inFlight < window ? this.#entries[this.#inFlight] : undefined;
  }

  /** The entry {@link next} returned went on the wire. */
  sent(): void {
    this.#inFlight++;
  }

  /** Takes out the first in-flight entry with message id `id`: the node acknowledged or refused it. */
  settle(id: string): E | undefined {
    for (let i = 0; i < this.#inFlight; i++) {
      if (this.#entries[i]!.msg.id === id) {
        this.#inFlight--;
        return this.#entries.splice(i, 1)[0];
      }
    }
    return undefined;
  }

  /** Takes out an entry with message id `id` that is not in flight (withdrawn before it was sent). */
  take(id: string): E | undefined {
    for (let i = this.#inFlight; i < this.#entries.length; i++) {
      if (this.#entries[i]!.msg.id === id) return this.#entries.splice(i, 1)[0];
    }
    return undefined;
  }

  /** Puts a settled entry back as the next one to send. */
  retry(entry: E): void {
    this.#entries.splice(this.#inFlight, 0, entry);
  }

  /** The socket is gone: whatever was in flight is sent again on the next one. */
  rewind(): void {
    this.#inFlight = 0;
  }

  /** Takes out everything. */
  clear(): E[] {
    this.#inFlight = 0;
    return this.#entries.splice(0);
  }
}
