import type { SipRequest, SipResponse } from '../message/index.js';
import type { Timer, TimerQueue } from '../timers/timer-queue.js';
import type { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import { randomToken } from './identifiers.js';

/** The header fields that make a provisional response reliable (RFC 3262 §3). */
export type ReliableFields = readonly (readonly [name: string, value: string])[];

/**
 * RFC 3262 §3, the UAS side: the reliable provisional responses (101-199) to one INVITE.
 * Each carries `Require: 100rel` and an RSeq one higher than the last; it is "passed to the
 * transaction layer periodically with an interval that starts at T1 seconds and doubles for
 * each retransmission" until its PRACK; "the UAS MUST NOT send a second reliable provisional
 * response until the first is acknowledged", so later ones wait their turn. Without a PRACK
 * for 64·T1, `onTimeout` (the UAS "SHOULD reject the original request with a 5xx").
 */
export class ReliableProvisionals {
  /** §3: "The value of the RSeq [...] MUST be chosen uniformly between 1 and 2**31 - 1"; kept well below so it can grow. */
  #rseq = 1 + (Number.parseInt(randomToken(6), 36) % 0x3fffffff);
  #unacknowledged: { readonly rseq: number; readonly response: SipResponse; timer: Timer } | undefined;
  readonly #waiting: ((fields: ReliableFields) => SipResponse)[] = [];

  constructor(
    private readonly transaction: InviteServerTransaction,
    private readonly timers: TimerQueue,
    private readonly t1: number,
    private readonly onTimeout: () => void,
  ) {}

  /** Sends the provisional response `build` makes with the fields given, now or once the one before is acknowledged. */
  send(build: (fields: ReliableFields) => SipResponse): void {
    if (this.#unacknowledged) this.#waiting.push(build);
    else this.#transmit(build);
  }

  /**
   * §3: a PRACK; true when its RAck (`RSeq CSeq-number method`) names the response waiting for
   * it, which then stops being retransmitted (the next one goes). False: the UAS answers 481.
   */
  prack(prack: SipRequest): boolean {
    const pending = this.#unacknowledged;
    const [rseq, seq, method] = (prack.headers.get('RAck') ?? '').trim().split(/\s+/);
    const invite = this.transaction.request.cseq;
    if (!pending || Number(rseq) !== pending.rseq || Number(seq) !== invite.seq || method !== invite.method)
      return false;
    pending.timer.cancel();
    this.#unacknowledged = undefined;
    const next = this.#waiting.shift();
    if (next) this.#transmit(next);
    return true;
  }

  /**
   * A final response went: nothing more to retransmit, and nothing more to send. The response
   * still unacknowledged stays so: §3 lets a final response without SDP overtake its PRACK, and
   * that PRACK, already on its way, "matches" it and gets 200. A 481 would end the call at the
   * caller (RFC 3261 §12.2.1.2).
   */
  stop(): void {
    this.#unacknowledged?.timer.cancel();
    this.#waiting.length = 0;
  }

  #transmit(build: (fields: ReliableFields) => SipResponse): void {
    const rseq = this.#rseq++;
    const response = build([
      ['Require', '100rel'],
      ['RSeq', String(rseq)],
    ]);
    this.transaction.respond(response);
    const started = Date.now();
    const again = (interval: number): Timer =>
      this.timers.after(interval, () => {
        if (this.#unacknowledged?.rseq !== rseq) return;
        if (Date.now() - started >= 64 * this.t1) {
          this.stop();
          return this.onTimeout();
        }
        this.transaction.respond(response);
        this.#unacknowledged.timer = again(interval * 2);
      });
    this.#unacknowledged = { rseq, response, timer: again(this.t1) };
  }
}
