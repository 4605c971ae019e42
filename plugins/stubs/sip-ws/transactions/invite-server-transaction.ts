import type { SipRequest, SipResponse } from '../message/index.js';
import { createResponse } from '../user-agent-core/responses.js';
import { Transaction, type TransactionContext } from './transaction.js';

/**
 * RFC 3261 §17.2.1 with RFC 6026 §7.1: the INVITE server transaction, for a reliable transport
 * (no Timer G; Timer I is zero).
 *
 *     Proceeding --300-699--> Completed --ACK--> Confirmed --I=0--> Terminated
 *         |                       +--Timer H (64·T1), no ACK--> Terminated
 *         +--2xx--> Accepted --Timer L (64·T1)--> Terminated
 *
 * A 100 (Trying) goes out at once: the TU answers only after the runtime has taken the offer,
 * which may take longer than the 200 ms §17.2.1 allows.
 */
export class InviteServerTransaction extends Transaction {
  state: 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated' = 'proceeding';
  #last: SipResponse;

  constructor(key: string, request: SipRequest, context: TransactionContext) {
    super(key, request, context);
    // §8.2.6.1: a 100 (Trying) carries no To tag.
    this.#last = createResponse(request, 100);
    context.send(this.#last);
  }

  /** §17.2.1: the TU's response. */
  respond(response: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.#last = response;
    this.context.send(response);
    if (response.status < 200) return;
    const timeout = this.context.values.timeout;
    if (response.status < 300) {
      // RFC 6026: Accepted absorbs retransmitted INVITEs; 2xx retransmissions are the TU's (§13.3.1.4).
      this.state = 'accepted';
      this.after(timeout, () => this.#end());
    } else {
      this.state = 'completed';
      this.after(timeout, () => this.#end());
    }
  }

  /** A retransmission of the INVITE (§17.2.3 matched it): the last response again, except when Accepted. */
  retransmitted(): void {
    if (this.state === 'proceeding' || this.state === 'completed') this.context.send(this.#last);
  }

  /** The ACK of a non-2xx final response (§17.2.1): Confirmed, then Terminated at once. */
  acknowledged(): void {
    if (this.state === 'completed') this.#end();
  }

  abort(): void {
    this.#end();
  }

  #end(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.terminate();
  }
}
