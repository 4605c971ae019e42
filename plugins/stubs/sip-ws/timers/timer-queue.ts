import type { TimerHost } from '../../../../core/stub-kit/shared-session.js';

/** A scheduled call; cancelling twice, or after it ran, does nothing. */
export interface Timer {
  cancel(): void;
}

interface Entry {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | undefined;
}

/**
 * Every timer of one SIP user agent (RFC 3261 §17 Timers B, F, H, M..., registration refresh,
 * keep-alive, 2xx retransmission) on one context timer, armed for the earliest deadline.
 *
 * Why one: thousands of transactions in flight cost one host timer, not thousands. The host is
 * the user agent's shared session (core/stub-kit), which moves that timer to another
 * conversation's context when the one it runs on ends.
 */
export class TimerQueue {
  readonly #host: TimerHost;
  /** A binary min-heap by deadline, then by order of scheduling. Cancelled entries stay until they surface. */
  readonly #heap: Entry[] = [];
  #seq = 0;
  #armed: { id: number; at: number } | undefined;
  readonly #onError: (err: unknown) => void;

  constructor(host: TimerHost, onError: (err: unknown) => void) {
    this.#host = host;
    this.#onError = onError;
  }

  /** Entries not yet run or cancelled, plus cancelled ones not yet discarded. */
  get size(): number {
    return this.#heap.length;
  }

  /** Calls `fn` after `ms` milliseconds. */
  after(ms: number, fn: () => void): Timer {
    const entry: Entry = { at: Date.now() + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(entry);
    this.#arm();
    return {
      cancel: () => {
        entry.fn = undefined;
      },
    };
  }

  /** Cancels everything. */
  clear(): void {
    this.#disarm();
    this.#heap.length = 0;
  }

  #fire = (): void => {
    this.#armed = undefined;
    const now = Date.now();
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now) {
      const fn = this.#pop().fn;
      if (!fn) continue;
      try {
        fn();
      } catch (err) {
        this.#onError(err);
      }
    }
    this.#arm();
  };

  #arm(): void {
    while (this.#heap.length > 0 && this.#heap[0]!.fn === undefined) this.#pop();
    const first = this.#heap[0];
    if (!first || (this.#armed && this.#armed.at <= first.at)) return;
    this.#disarm();
    this.#armed = { id: this.#host.setTimeout(this.#fire, Math.max(0, first.at - Date.now())), at: first.at };
  }

  #disarm(): void {
    if (this.#armed) this.#host.clearTimeout(this.#armed.id);
    this.#armed = undefined;
  }

  #push(entry: Entry): void {
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(entry, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = entry;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const child = r < heap.length && before(heap[r]!, heap[l]!) ? r : l;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
