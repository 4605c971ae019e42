import type { Message } from '../../../../core/message.js';

/** A request of the app, and the conversation (instance) it came by. */
export interface Held<From> {
  readonly from: From;
  readonly msg: Message;
}

/**
 * The app's requests on their way through one user agent: held, in order and bounded, while it
 * is not registered (core/stub.ts: a stub holds what it cannot send yet), and handed to SIP
 * once it is; then counted as sent until their final answer. A withdrawal (core/stub.ts
 * `WITHDRAW`) finds a held request taken out, a sent one too late.
 */
export class Outbox<From> {
  readonly #held: Held<From>[] = [];
  /** Requests handed to SIP and not answered yet: their conversation, by message id. */
  readonly #sent = new Map<string, From>();

  constructor(private readonly max: number) {}

  /** Holds `msg` behind the others; false when {@link max} are held already. */
  hold(from: From, msg: Message): boolean {
    if (this.#held.length >= this.max) return false;
    this.#held.push({ from, msg });
    return true;
  }

  /** Takes out the oldest held request. */
  next(): Held<From> | undefined {
    return this.#held.shift();
  }

  /** Takes out every held request, oldest first. */
  drain(): Held<From>[] {
    return this.#held.splice(0);
  }

  /** `msg` of `from` is handed to SIP: sent until {@link answered}. */
  sending(from: From, msg: Message): void {
    this.#sent.set(msg.id, from);
  }

  answered(id: string): void {
    this.#sent.delete(id);
  }

  /**
   * Withdraws request `id` of `from`: 200 when it was held (taken out: it never goes), 409 when
   * it was sent (its own answer will say what became of it), 404 when it is neither.
   */
  withdraw(from: From, id: string): 200 | 404 | 409 {
    const i = this.#held.findIndex((h) => h.msg.id === id && h.from === from);
    if (i >= 0) {
      this.#held.splice(i, 1);
      return 200;
    }
    return this.#sent.get(id) === from ? 409 : 404;
  }

  /** `from` ended: what it held will not go, and its answers go nowhere. */
  forget(from: From): void {
    for (let i = this.#held.length - 1; i >= 0; i--)
      if (this.#held[i]!.from === from) this.#held.splice(i, 1);
    for (const [id, f] of this.#sent) if (f === from) this.#sent.delete(id);
  }
}
