import type { SipMessage, SipRequest, SipResponse } from '../message/index.js';
import type { TimerQueue } from '../timers/timer-queue.js';
import { InviteClientTransaction } from './invite-client-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { NonInviteClientTransaction } from './non-invite-client-transaction.js';
import { NonInviteServerTransaction } from './non-invite-server-transaction.js';
import { transactionTimers } from './timers.js';
import type { ClientTransactionUser, Transaction, TransactionContext } from './transaction.js';

export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;

/**
 * RFC 3261 §17: the transactions of one user agent, and the matching of what arrives to them.
 *
 * - Client side (§17.1.3): a response matches the transaction whose request has the same
 *   top Via branch and CSeq method.
 * - Server side (§17.2.3): a request matches by top Via branch and sent-by, and its method,
 *   ACK matching INVITE. CANCEL is a transaction of its own; §9.2 finds the INVITE it cancels.
 */
export class TransactionLayer {
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #servers = new Map<string, ServerTransaction>();
  readonly #context: TransactionContext;

  constructor(send: (message: SipMessage) => boolean, timers: TimerQueue, t1Ms: number) {
    this.#context = {
      timers,
      values: transactionTimers(t1Ms),
      send,
      terminated: (t: Transaction) => {
        if (this.#clients.get(t.key) === t) this.#clients.delete(t.key);
        else if (this.#servers.get(t.key) === t) this.#servers.delete(t.key);
      },
    };
  }

  /** Transactions alive now, both sides. */
  get size(): number {
    return this.#clients.size + this.#servers.size;
  }

  /** The timer values transactions run on. */
  get timers(): TransactionContext['values'] {
    return this.#context.values;
  }

  /** Sends `request` in a new client transaction; the request's top Via carries a fresh branch. */
  send(request: SipRequest, user: ClientTransactionUser): ClientTransaction {
    const key = clientKey(request.via.params.get('branch') ?? '', request.cseq.method);
    const t =
      request.method === 'INVITE'
        ? new InviteClientTransaction(key, request, this.#context, user)
        : new NonInviteClientTransaction(key, request, this.#context, user);
    if (t.state !== 'terminated') this.#clients.set(key, t);
    return t;
  }

  /** §17.1.3: hands `response` to its client transaction; false when none matches. */
  receiveResponse(response: SipResponse): boolean {
    const branch = response.vias[0]?.params.get('branch');
    const t = branch ? this.#clients.get(clientKey(branch, response.cseq.method)) : undefined;
    if (!t) return false;
    t.receive(response);
    return true;
  }

  /**
   * §17.2.3: a request that belongs to a server transaction already (a retransmission, or
   * the ACK of a non-2xx final response) is absorbed there: true. False for a new request.
   */
  receiveRequest(request: SipRequest): boolean {
    const t = this.#servers.get(serverKey(request));
    if (!t) return false;
    if (request.method === 'ACK') {
      if (t instanceof InviteServerTransaction && t.state === 'completed') t.acknowledged();
      // The ACK of a 2xx has its own branch (§13.2.2.4) and never gets here; any other is absorbed.
      return t instanceof InviteServerTransaction && t.state !== 'accepted';
    }
    t.retransmitted();
    return true;
  }

  /** Opens the server transaction of a new request (not ACK, which has none). */
  receive(request: SipRequest): ServerTransaction {
    const key = serverKey(request);
    const t =
      request.method === 'INVITE'
        ? new InviteServerTransaction(key, request, this.#context)
        : new NonInviteServerTransaction(key, request, this.#context);
    this.#servers.set(key, t);
    return t;
  }

  /** §9.2: the INVITE server transaction `cancel` is for (same branch and sent-by). */
  cancelled(cancel: SipRequest): InviteServerTransaction | undefined {
    const t = this.#servers.get(serverKey(cancel, 'INVITE'));
    return t instanceof InviteServerTransaction ? t : undefined;
  }

  /** The connection is gone: no response can cross it any more. Every transaction ends. */
  abort(): void {
    // Each ends itself out of the maps; a TU told of the error may already start new ones.
    for (const t of [...this.#clients.values(), ...this.#servers.values()]) t.abort();
  }
}

function clientKey(branch: string, method: string): string {
  return `${branch}\n${method}`;
}

/** §17.2.3: branch, sent-by and method (ACK as INVITE), or `method` when given. */
function serverKey(request: SipRequest, method?: string): string {
  const via = request.via;
  const m = method ?? (request.method === 'ACK' ? 'INVITE' : request.method);
  return `${via.params.get('branch') ?? ''}\n${via.host}:${via.port ?? ''}\n${m}`;
}
