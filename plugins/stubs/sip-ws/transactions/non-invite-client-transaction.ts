import type { SipRequest, SipResponse } from '../message/index.js';
import { type ClientTransactionUser, Transaction, type TransactionContext } from './transaction.js';

/**
 * RFC 3261 §17.1.2: the non-INVITE client transaction, for a reliable transport (no Timer E;
 * Timer K is zero, so Completed ends at once).
 *
 *     Trying --1xx--> Proceeding --200-699--> Completed --K=0--> Terminated
 *       |  \__________________200-699_____________^
 *       +--Timer F (64·T1) or transport error--> Terminated (TU told)
 */
export class NonInviteClientTransaction extends Transaction {
  state: 'trying' | 'proceeding' | 'completed' | 'terminated' = 'trying';
  /** Whether the request went on the wire (a transport error after it leaves its fate unknown). */
  readonly #sent: boolean;

  constructor(
    key: string,
    request: SipRequest,
    context: TransactionContext,
    private readonly user: ClientTransactionUser,
  ) {
    super(key, request, context);
    // §17.1.2.2: Timer F bounds the whole transaction.
    this.after(context.values.timeout, () => this.#end(() => this.user.onTimeout()));
    this.#sent = context.send(request);
    if (!this.#sent) this.after(0, () => this.#end(() => this.user.onTransportError(false)));
  }

  /** §17.1.2.2: a response matched to this transaction (§17.1.3). */
  receive(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    if (response.status < 200) {
      this.state = 'proceeding';
      this.user.onResponse(response);
      return;
    }
    // Completed, and Timer K is zero on a reliable transport: Terminated straight after.
    this.state = 'completed';
    this.#end(() => this.user.onResponse(response));
  }

  abort(): void {
    if (this.state !== 'completed' && this.state !== 'terminated')
      this.#end(() => this.user.onTransportError(this.#sent));
  }

  #end(tell: () => void): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.terminate();
    tell();
  }
}
