import type { Message } from './message.js';

/**
 * The keys of the last `capacity` messages received, to drop a duplicate: a message is resent
 * after a reconnect when its acknowledgement was lost, though it may have arrived; and while
 * two versions of a stub run (a live swap), both may receive it. A key may carry a value (what
 * was answered to it, say), kept as long as the key.
 */
export class Seen<V = true> {
  readonly #entries = new Map<string, V>();
  // Eviction order in a ring: deleting a Map's first entry again and again makes V8 skip ever
  // more holes to find it (measured: ~10 µs an add at 10 000 keys, against ~0.2 µs this way).
  readonly #ring: (string | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#ring = new Array(capacity);
  }

  /** Whether `key` is recorded. */
  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The value recorded with `key`, if any. */
  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  /** Records `key` (with `value`); false, and nothing changed, if it was recorded already (a duplicate). */
  add(key: string, value: V = true as V): boolean {
    if (this.#entries.has(key)) return false;
    const oldest = this.#ring[this.#next];
    if (oldest !== undefined) this.#entries.delete(oldest);
    this.#ring[this.#next] = key;
    this.#next = (this.#next + 1) % this.#ring.length;
    this.#entries.set(key, value);
    return true;
  }
}

/**
 * The last `capacity` messages received, to drop a repeat. A message is itself by its sender,
 * its id, and its type or (a response) its code: a provisional and a final response carry their
 * request's id, and a sender picks its ids, so another sender may reuse one.
 *
 * Kept by id, with the sender and kind compared on a hit, rather than in a {@link Seen} keyed by
 * a string of the three: nothing is built per message, and a short id hashes fast (measured with
 * a window of 10,000: ~290 ns a message against 540-650). The rarer messages whose id is held
 * for another sender or kind (a final response after a provisional one) go to a `Seen` keyed so.
 * A message is known as long as the first with its id is among the last `capacity` ids kept
 * (and, for one of those rarer ones, it is among the last `capacity` of them).
 */
export class SeenMessages {
  readonly #first: Seen<Mark>;
  readonly #others: Seen;

  constructor(capacity: number) {
    this.#first = new Seen(capacity);
    this.#others = new Seen(capacity);
  }

  /** Whether `m` was recorded. */
  has(m: Message): boolean {
    const mark = this.#first.get(m.id);
    if (mark === undefined) return false;
    const kind = kindOf(m);
    return (mark.from === m.from && mark.kind === kind) || this.#others.has(otherKey(m, kind));
  }

  /** Records `m`; false, and nothing changed, if it was recorded already (a repeat). */
  add(m: Message): boolean {
    const kind = kindOf(m);
    const mark = this.#first.get(m.id);
    if (mark === undefined) return this.#first.add(m.id, { from: m.from, kind });
    if (mark.from === m.from && mark.kind === kind) return false;
    return this.#others.add(otherKey(m, kind));
  }
}

/** The first message recorded with an id: its sender and kind. */
interface Mark {
  readonly from: string;
  readonly kind: string | number;
}

function kindOf(m: Message): string | number {
  return m.type === 'response' ? m.body.code : m.type;
}

function otherKey(m: Message, kind: string | number): string {
  return `${m.from} ${m.id} ${kind}`;
}
