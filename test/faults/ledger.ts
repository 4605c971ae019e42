import { expect } from 'vitest';
import { isProtoflyError } from '../../core/errors.js';
import type { Conversation, Incoming, SendOptions } from '../../runtime/conversation.js';

/**
 * The one app-level check of the fault suite. Senders send through {@link Ledger.send}, which
 * numbers each message per sender; recipients' apps report what they got through
 * {@link Ledger.heard}. {@link Ledger.check} then holds the runtime to what send() promises
 * (runtime/conversation.ts):
 *
 * - no send is left hanging: every one settles;
 * - every resolved send arrives, exactly once;
 * - a send rejected with `PF_ERR_DELIVERY` (not delivered) never arrives;
 * - each sender's messages arrive in the order they were sent.
 */

type Outcome = 'pending' | 'resolved' | 'not-delivered' | 'unknown';

interface Sent {
  readonly from: string;
  readonly seq: number;
  outcome: Outcome;
  error?: unknown;
}

export interface LedgerReport {
  readonly sent: number;
  readonly resolved: number;
  /** Rejected with PF_ERR_DELIVERY, by response code. */
  readonly notDelivered: Readonly<Record<number, number>>;
  readonly unknown: number;
  readonly arrived: number;
}

const FORMAT = /^(.+)#(\d+)$/;

export class Ledger {
  readonly #sent: Sent[] = [];
  readonly #settling: Promise<void>[] = [];
  readonly #next = new Map<string, number>();
  /** Per sender: the sequence numbers that arrived, in arrival order. */
  readonly #arrived = new Map<string, number[]>();
  /** Every `<sender>#<seq>` that arrived. */
  readonly #texts = new Set<string>();
  /** Resolved sends not arrived yet, once {@link check} waits for them. */
  #missing: Set<string> | undefined;
  #waiter: (() => void) | undefined;

  /** Sends the next numbered message of `from` on `conversation`; resolves once it settled, never rejects. */
  send(from: string, conversation: Conversation, options?: SendOptions): Promise<Outcome> {
    const seq = this.#next.get(from) ?? 0;
    this.#next.set(from, seq + 1);
    const entry: Sent = { from, seq, outcome: 'pending' };
    this.#sent.push(entry);
    const settled = conversation.send(`${from}#${seq}`, options).then(
      () => {
        entry.outcome = 'resolved';
      },
      (err: unknown) => {
        entry.error = err;
        entry.outcome = isProtoflyError(err, 'PF_ERR_DELIVERY') ? 'not-delivered' : 'unknown';
      },
    );
    this.#settling.push(settled);
    return settled.then(() => {
      this.#waiter?.();
      return entry.outcome;
    });
  }

  /** Sends `count` messages from `from`, at most `window` unsettled at a time (an app that waits for its sends). */
  async stream(
    from: string,
    conversation: Conversation,
    count: number,
    window: number,
    options?: SendOptions,
  ) {
    const inFlight = new Set<Promise<unknown>>();
    for (let i = 0; i < count; i++) {
      const p = this.send(from, conversation, options).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  }

  /** How many sends settled so far. */
  get settled(): number {
    return this.#sent.filter((s) => s.outcome !== 'pending').length;
  }

  /** What a recipient's app got. Bodies that are not the ledger's are ignored. */
  heard(incoming: Incoming): void {
    const text = (incoming.body as { text?: string }).text ?? '';
    const m = FORMAT.exec(text);
    if (!m) return;
    const seqs = this.#arrived.get(m[1]!) ?? [];
    this.#arrived.set(m[1]!, seqs);
    seqs.push(Number(m[2]));
    this.#texts.add(text);
    this.#missing?.delete(text);
    this.#waiter?.();
  }

  /** Listens to every message of `conversation`. */
  listen(conversation: Conversation): void {
    conversation.on('message', (m) => this.heard(m));
  }

  /** Resolves once `condition` holds, checked whenever a send settles or a message arrives. */
  until(condition: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        this.#waiter = undefined;
        resolve();
      };
      this.#waiter = check;
      check();
    });
  }

  /**
   * Waits for every send to settle and every resolved one to arrive, then checks the promise
   * of send() (see above) and returns the counts.
   */
  async check(): Promise<LedgerReport> {
    await Promise.all(this.#settling);
    const resolved = this.#sent.filter((s) => s.outcome === 'resolved');
    const has = (s: Sent) => this.#texts.has(`${s.from}#${s.seq}`);
    const missing = new Set(resolved.filter((s) => !has(s)).map((s) => `${s.from}#${s.seq}`));
    this.#missing = missing;
    await this.until(() => missing.size === 0);
    for (const [from, seqs] of this.#arrived) {
      // Exactly once, in the order sent.
      expect(new Set(seqs).size, `${from}: a message arrived twice`).toBe(seqs.length);
      expect(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]!),
        `${from}: out of order`,
      ).toBe(true);
    }
    const rejectedButDelivered = this.#sent.filter((s) => s.outcome === 'not-delivered' && has(s));
    expect(rejectedButDelivered.map((s) => `${s.from}#${s.seq}: ${String(s.error)}`)).toEqual([]);
    const notDelivered: Record<number, number> = {};
    for (const s of this.#sent) {
      if (s.outcome !== 'not-delivered') continue;
      const code = (s.error as { detail: { code: number } }).detail.code;
      notDelivered[code] = (notDelivered[code] ?? 0) + 1;
    }
    return {
      sent: this.#sent.length,
      resolved: resolved.length,
      notDelivered,
      unknown: this.#sent.filter((s) => s.outcome === 'unknown').length,
      arrived: [...this.#arrived.values()].reduce((n, seqs) => n + seqs.length, 0),
    };
  }
}
