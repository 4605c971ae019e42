import {
  CALL_ID,
  CSEQ,
  FROM,
  Headers,
  MAX_FORWARDS,
  ROUTE,
  SipRequest,
  type SipResponse,
  TO,
  VIA,
} from '../message/index.js';
import { type ClientTransactionUser, Transaction, type TransactionContext } from './transaction.js';

/**
 * RFC 3261 §17.1.1 with RFC 6026 §7.2: the INVITE client transaction, for a reliable
 * transport (no Timer A; Timer D is zero).
 *
 *     Calling --1xx--> Proceeding --300-699 (ACK sent)--> Completed --D=0--> Terminated
 *        |                 |--2xx--> Accepted --Timer M (64·T1)--> Terminated
 *        +--Timer B (64·T1) or transport error--> Terminated (TU told)
 *
 * In Accepted every 2xx (retransmissions and other forks) goes to the TU, which ACKs it
 * (§13.2.2.4): the ACK of a 2xx is the TU's, not the transaction's.
 */
export class InviteClientTransaction extends Transaction {
  state: 'calling' | 'proceeding' | 'completed' | 'accepted' | 'terminated' = 'calling';
  /** Whether the request went on the wire (a transport error after it leaves its fate unknown). */
  readonly #sent: boolean;

  constructor(
    key: string,
    request: SipRequest,
    context: TransactionContext,
    private readonly user: ClientTransactionUser,
  ) {
    super(key, request, context);
    // §17.1.1.2: Timer B, only while Calling.
    this.after(context.values.timeout, () => {
      if (this.state === 'calling') this.#end(() => this.user.onTimeout());
    });
    this.#sent = context.send(request);
    if (!this.#sent) this.after(0, () => this.#end(() => this.user.onTransportError(false)));
  }

  /** §17.1.1.2: a response matched to this transaction (§17.1.3). */
  receive(response: SipResponse): void {
    const status = response.status;
    switch (this.state) {
      case 'calling':
      case 'proceeding':
        if (status < 200) {
          this.state = 'proceeding';
          this.user.onResponse(response);
        } else if (status < 300) {
          this.state = 'accepted';
          this.after(this.context.values.timeout, () => this.#end(() => {}));
          this.user.onResponse(response);
        } else {
          this.state = 'completed';
          this.context.send(this.#ackFor(response));
          // Timer D is zero on a reliable transport.
          this.#end(() => this.user.onResponse(response));
        }
        return;
      case 'accepted':
        if (status >= 200 && status < 300) this.user.onResponse(response);
        return;
      default:
    }
  }

  abort(): void {
    if (this.state === 'calling' || this.state === 'proceeding')
      this.#end(() => this.user.onTransportError(this.#sent));
    else if (this.state !== 'terminated') this.#end(() => {});
  }

  /**
   * §17.1.1.3: the ACK of a non-2xx final response, part of this transaction: the request's
   * Request-URI, Call-ID, From, CSeq number, Route and top Via; the response's To (with its tag).
   */
  #ackFor(response: SipResponse): SipRequest {
    const invite = this.request;
    const h = new Headers();
    h.put(VIA, [invite.via]);
    h.put(MAX_FORWARDS, [70]);
    h.put(FROM, [invite.from]);
    h.put(TO, [response.to]);
    h.put(CALL_ID, [invite.callId]);
    h.put(CSEQ, [{ seq: invite.cseq.seq, method: 'ACK' }]);
    const routes = invite.headers.all(ROUTE);
    if (routes.length > 0) h.put(ROUTE, routes);
    return new SipRequest('ACK', invite.uri, h);
  }

  #end(tell: () => void): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.terminate();
    tell();
  }
}
