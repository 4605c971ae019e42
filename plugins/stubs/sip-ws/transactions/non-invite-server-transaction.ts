import type { SipResponse } from '../message/index.js';
import { Transaction } from './transaction.js';

/**
 * RFC 3261 §17.2.2: the non-INVITE server transaction, for a reliable transport (Timer J is
 * zero, so a final response ends it).
 *
 *     Trying --1xx--> Proceeding --200-699--> Completed --J=0--> Terminated
 *
 * A retransmitted request gets the last provisional response again; before any, nothing.
 */
export class NonInviteServerTransaction extends Transaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';
  #last: SipResponse | undefined;

  /** §17.2.2: the TU's response. */
  respond(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.#last = response;
    this.context.send(response);
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    this.#end();
  }

  /** A retransmission of the request (§17.2.3 matched it here). */
  retransmitted(): void {
    if (this.state === 'proceeding' && this.#last) this.context.send(this.#last);
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
