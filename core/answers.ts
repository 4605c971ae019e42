/**
 * The last `capacity` answers a stub gave, each under the request it answers (who sent it and
 * its id), to give again when that request comes twice: its sender lost the answer (with a node
 * that went down) and sent the request again.
 *
 * Written on every answer, read only on a repeat: a ring, searched from the newest. Nothing is
 * built or hashed per answer; a {@link Seen} keyed by `${from} ${id}` cost about a microsecond
 * per answer on the json-ws path (measured with bench/node.bench.ts). A search costs up to
 * `capacity` comparisons, once per repeated request, which the node's rate bounds. Where every
 * message is looked up among the answers (xmpp-ws), a `Seen` with values fits instead.
 */
export class Answers<V> {
  readonly #from: (string | undefined)[];
  readonly #id: (string | undefined)[];
  readonly #value: (V | undefined)[];
  #next = 0;

  constructor(capacity: number) {
    this.#from = new Array(capacity);
    this.#id = new Array(capacity);
    this.#value = new Array(capacity);
  }

  /** Records `value` as the answer to request `id` from `from`, forgetting the oldest beyond capacity. */
  add(from: string, id: string, value: V): void {
    const i = this.#next;
    this.#from[i] = from;
    this.#id[i] = id;
    this.#value[i] = value;
    this.#next = (i + 1) % this.#value.length;
  }

  /** The latest answer recorded to request `id` from `from`, if it is still kept. */
  get(from: string, id: string): V | undefined {
    const n = this.#value.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.#next - k + n) % n;
      if (this.#id[i] === id && this.#from[i] === from) return this.#value[i];
    }
    return undefined;
  }
}
