import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import type { Timer, TimerQueue } from '../timers/timer-queue.js';
import type { TransactionTimers } from './timers.js';

/** What a client transaction tells the transaction user (the core that sent the request). */
export interface ClientTransactionUser {
  /** A response to the request: any number of 1xx, then a final one; for INVITE, 2xx retransmissions too. */
  onResponse(response: SipResponse): void;
  /** Timer B or F fired before a final response (§17.1.1.2, §17.1.2.2): the TU treats it as a 408. */
  onTimeout(): void;
  /**
   * The transport failed (§17.1.4): the TU treats it as a 503. `sent`: the request had gone on
   * the wire before (the connection was lost while waiting), so the far side may have it.
   */
  onTransportError(sent: boolean): void;
}

/** What the transaction layer gives each transaction. */
export interface TransactionContext {
  readonly timers: TimerQueue;
  readonly values: TransactionTimers;
  send(message: SipMessage): boolean;
  /** The transaction reached Terminated: forget it. */
  terminated(transaction: Transaction): void;
}

/** What every transaction has: its request, its key in the layer, and its timers. */
export abstract class Transaction {
  abstract readonly state: string;
  readonly #timers = new Set<Timer>();

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    protected readonly context: TransactionContext,
  ) {}

  /** Ends the transaction now; a client transaction tells its user of a transport error first. */
  abstract abort(): void;

  /** Runs `fn` after `ms` unless the transaction ends first. */
  protected after(ms: number, fn: () => void): void {
    const timer = this.context.timers.after(ms, () => {
      this.#timers.delete(timer);
      fn();
    });
    this.#timers.add(timer);
  }

  /** Enters Terminated: its timers stop and the layer forgets it. */
  protected terminate(): void {
    for (const timer of this.#timers) timer.cancel();
    this.#timers.clear();
    this.context.terminated(this);
  }
}
