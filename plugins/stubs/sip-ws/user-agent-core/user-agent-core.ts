import { isProtoflyError } from '../../../../core/errors.js';
import type { StubLog } from '../../../../core/stub.js';
import { type Dialog, dialogKey, tagOf } from '../dialogs/dialog.js';
import type { Credentials } from '../digest/credentials.js';
import {
  AUTHORIZATION,
  CSEQ,
  isSipUri,
  PROXY_AUTHORIZATION,
  RECORD_ROUTE,
  REQUIRE,
  type SipMessage,
  SipRequest,
  type SipResponse,
  VIA,
} from '../message/index.js';
import type { Timer, TimerQueue } from '../timers/timer-queue.js';
import type { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import { type ServerTransaction, TransactionLayer } from '../transactions/transaction-layer.js';
import { newBranch } from './identifiers.js';
import { createResponse, isSupported } from './responses.js';

/** Where the core's messages go, and what names this user agent in Via (RFC 7118 §5.2). */
export interface CoreTransport {
  readonly host: string;
  readonly viaTransport: 'WS' | 'WSS';
  send(message: SipMessage): boolean;
}

/** What the core hands up to the sessions above it (the transaction user). */
export interface CoreDelegate {
  /** A new request: outside a dialog (`dialog` undefined), or within `dialog`, its CSeq checked. */
  onRequest(transaction: ServerTransaction, request: SipRequest, dialog: Dialog | undefined): void;
  /**
   * §9.2: a CANCEL matched `invite`: the TU answers it (487) unless a final response went
   * already (then the CANCEL has no effect). Returns the To tag of its responses, which the
   * CANCEL's 200 then has too.
   */
  onCancel(invite: InviteServerTransaction): string | undefined;
  /** §13.3.1.4: the ACK of a 2xx this user agent sent arrived in `dialog`. */
  onAck(request: SipRequest, dialog: Dialog): void;
}

/**
 * Gets every response to a request sent: 1xx, then one final; for INVITE also 2xx
 * retransmissions. `unanswered` is true on the final response the core made itself for a
 * request that went on the wire and will get none: Timer B or F fired (§17.1.1.2, §17.1.2.2)
 * or the connection was lost after sending (§17.1.4). §8.1.3.1 has the TU treat those as 408
 * and 503, but unlike a 408 or 503 received, or the 503 for a request that never went out,
 * they do not say the far side lacks the request: it may have it.
 */
export type ResponseHandler = (response: SipResponse, unanswered: boolean) => void;

/** One request sent, through its authentication retries: `request` is the last one sent. */
export interface Outgoing {
  readonly request: SipRequest;
}

/**
 * The user agent core (RFC 3261 §8, §12-§13, §22): what UAC and UAS do around transactions.
 *
 * - Sends requests in client transactions with a fresh Via branch (§8.1.1.7) and the
 *   credentials seen challenges call for; answers a 401/407 once with credentials (§22.2),
 *   again only when the nonce was stale, so a wrong password costs one retry, not a loop.
 *   A timeout or transport error reaches the caller as a 408 or 503 response (§8.1.3.1),
 *   told apart from a received one (see {@link ResponseHandler}).
 * - Opens server transactions for new requests, refuses unknown extensions in Require
 *   with 420 (§8.2.2.3), matches in-dialog requests to their dialog or answers 481
 *   (§12.2.2), and handles CANCEL (§9.2).
 * - ACKs 2xx responses (§13.2.2.4) and repeats its own 2xx to INVITE until their ACK
 *   (§13.3.1.4).
 */
export class UserAgentCore {
  readonly transactions: TransactionLayer;
  readonly dialogs = new Map<string, Dialog>();
  /** §13.2.2.4: the ACK sent for each dialog's latest 2xx to an INVITE, sent again when that 2xx is. */
  readonly #acks = new Map<string, SipRequest>();
  /** §8.2.2.2: the requests outside a dialog received in the last 64·T1, by {@link mergeKey}. */
  readonly #recent = new Set<string>();
  /** §13.3.1.4: the retransmission timer of each 2xx not yet acknowledged. */
  readonly #unacknowledged = new Map<string, Timer>();
  readonly #transport: CoreTransport;
  readonly #timers: TimerQueue;
  readonly #delegate: CoreDelegate;
  readonly #log: () => StubLog;
  credentials: Credentials | undefined;

  constructor(
    transport: CoreTransport,
    timers: TimerQueue,
    t1Ms: number,
    delegate: CoreDelegate,
    log: () => StubLog,
  ) {
    this.#transport = transport;
    this.#timers = timers;
    this.#delegate = delegate;
    this.#log = log;
    this.transactions = new TransactionLayer((m) => transport.send(m), timers, t1Ms);
  }

  /**
   * Sends `request` (no Via yet, or a CANCEL's copied one) and hands every response to
   * `onResponse`.
   */
  send(request: SipRequest, onResponse: ResponseHandler): Outgoing {
    const out = { request };
    let answered = false;
    const attempt = (r: SipRequest) => {
      out.request = r;
      if (r.method !== 'CANCEL' && r.method !== 'ACK') {
        r.headers.put(VIA, [this.#via()]);
        this.credentials?.authorize(r, answered);
      }
      this.transactions.send(r, {
        onResponse: (response) => {
          if ((response.status === 401 || response.status === 407) && this.#retry(r, response, answered)) {
            answered = true;
            return attempt(nextAttempt(r));
          }
          onResponse(response, false);
        },
        onTimeout: () =>
          onResponse(createResponse(r, 408, { reason: 'Request Timeout (no response)' }), true),
        onTransportError: (sent) =>
          sent
            ? onResponse(createResponse(r, 503, { reason: 'Service Unavailable (connection lost)' }), true)
            : onResponse(createResponse(r, 503, { reason: 'Service Unavailable (not sent)' }), false),
      });
    };
    attempt(request);
    return out;
  }

  /** §13.2.2.4: ACKs a 2xx to `invite` within `dialog` (and again for each retransmission of it). */
  ack(dialog: Dialog, invite: SipRequest): void {
    let ack = this.#acks.get(dialog.key);
    // A re-INVITE's 2xx (§14.1) gets an ACK of its own CSeq.
    if (ack?.cseq.seq !== invite.cseq.seq) {
      ack = dialog.request('ACK', undefined, invite.cseq.seq);
      ack.headers.put(VIA, [this.#via()]);
      // §22.1: an ACK for a 2xx carries the INVITE's credentials.
      for (const codec of [AUTHORIZATION, PROXY_AUTHORIZATION]) {
        const values = invite.headers.all(codec);
        if (values.length > 0) ack.headers.put(codec, values);
      }
      this.#acks.set(dialog.key, ack);
    }
    this.#transport.send(ack);
  }

  /**
   * §13.3.1.4: sends a 2xx to an INVITE through its transaction, then again at T1, 2·T1...
   * (at most T2 apart) until the ACK; `onNoAck` after 64·T1 without one.
   */
  accept(
    transaction: InviteServerTransaction,
    response: SipResponse,
    dialog: Dialog,
    onNoAck: () => void,
  ): void {
    transaction.respond(response);
    const { t1, t2, timeout } = this.transactions.timers;
    const started = Date.now();
    const again = (interval: number): Timer =>
      this.#timers.after(interval, () => {
        if (Date.now() - started >= timeout) {
          this.#unacknowledged.delete(dialog.key);
          return onNoAck();
        }
        this.#transport.send(response);
        this.#unacknowledged.set(dialog.key, again(Math.min(interval * 2, t2)));
      });
    this.#unacknowledged.set(dialog.key, again(t1));
  }

  /** Forgets a dialog that ended. */
  forget(dialog: Dialog): void {
    this.dialogs.delete(dialog.key);
    this.#acks.delete(dialog.key);
    this.#unacknowledged.get(dialog.key)?.cancel();
    this.#unacknowledged.delete(dialog.key);
  }

  /** The connection is gone: every transaction ends; dialogs stay (their requests may go on another). */
  abort(): void {
    this.transactions.abort();
  }

  /** A message from the transport. Never throws: a message that breaks a rule is answered or dropped. */
  receive(message: SipMessage): void {
    try {
      if (message instanceof SipRequest) this.#request(message);
      else this.#response(message);
    } catch (err) {
      // A typed view parsed late (a malformed Contact, Record-Route...): the message is dropped.
      const why = isProtoflyError(err) ? err.message : String(err);
      this.#log().warn('sip-ws: dropped a message that breaks a rule', { error: why });
    }
  }

  #response(response: SipResponse): void {
    if (this.transactions.receiveResponse(response)) return;
    // §13.2.2.4: a 2xx retransmitted after its transaction ended gets its ACK again.
    if (response.cseq.method !== 'INVITE' || response.status < 200 || response.status >= 300) return;
    const key = dialogKey(response.callId, tagOf(response.from) ?? '', tagOf(response.to) ?? '');
    const ack = this.#acks.get(key);
    if (ack?.cseq.seq === response.cseq.seq) this.#transport.send(ack);
  }

  #request(request: SipRequest): void {
    if (this.transactions.receiveRequest(request)) return;
    const toTag = tagOf(request.to);
    const key = toTag === undefined ? undefined : dialogKey(request.callId, toTag, tagOf(request.from) ?? '');
    if (request.method === 'ACK') {
      const dialog = key === undefined ? undefined : this.dialogs.get(key);
      if (!dialog) return;
      this.#unacknowledged.get(dialog.key)?.cancel();
      this.#unacknowledged.delete(dialog.key);
      return this.#delegate.onAck(request, dialog);
    }
    const transaction = this.transactions.receive(request);
    try {
      this.#serve(transaction, request, key);
    } catch (err) {
      if (!isProtoflyError(err, 'PF_ERR_SIP_PARSE')) throw err;
      // A header parsed when read does not parse: §21.4.1, 400, "The Reason-Phrase SHOULD
      // identify the syntax problem in more detail"; the sender hears it now, not by its timeout.
      const header = err.detail.header;
      const reason = typeof header === 'string' ? `Bad ${header} header field` : 'Bad Request';
      transaction.respond(createResponse(request, 400, { reason }));
      this.#log().warn('sip-ws: refused a malformed request', { error: err.message });
    }
  }

  /** A new request in its server transaction `transaction`; `key` names its dialog when it has a To tag. */
  #serve(transaction: ServerTransaction, request: SipRequest, key: string | undefined): void {
    if (request.method === 'CANCEL') return this.#cancel(transaction, request);
    // §8.2.2.3: a request that requires an extension this user agent lacks gets 420 naming it.
    const unsupported = request.headers.all(REQUIRE).filter((tag) => !isSupported(tag));
    if (unsupported.length > 0) return transaction.respond(createResponse(request, 420, { unsupported }));
    if (key === undefined) {
      if (this.#merged(request)) return transaction.respond(createResponse(request, 482));
      if (request.method === 'INVITE' && !dialogForming(request)) {
        return transaction.respond(createResponse(request, 400, { reason: 'Bad Contact or Record-Route' }));
      }
      return this.#delegate.onRequest(transaction, request, undefined);
    }
    const dialog = this.dialogs.get(key);
    if (!dialog) return transaction.respond(createResponse(request, 481));
    if (!dialog.receive(request))
      return transaction.respond(createResponse(request, 500, { reason: 'CSeq out of order' }));
    this.#delegate.onRequest(transaction, request, dialog);
  }

  /**
   * §8.2.2.2: a request without a To tag whose From tag, Call-ID and CSeq are those of one
   * received before, under another branch, is a copy that reached this user agent twice (a
   * fork, or a hop that lost its transaction): "the UAS core SHOULD generate a 482 (Loop
   * Detected) response". The RFC asks it while that transaction is ongoing; over this
   * reliable hop a non-INVITE one ends with its response (Timer J is 0), while the hops behind
   * it may be unreliable, so the request is remembered for 64·T1, the life Timer J gives it
   * there (§17.2.2): a chat is not delivered twice.
   */
  #merged(request: SipRequest): boolean {
    const key = mergeKey(request);
    if (this.#recent.has(key)) return true;
    this.#recent.add(key);
    this.#timers.after(this.transactions.timers.timeout, () => this.#recent.delete(key));
    return false;
  }

  /**
   * §9.2: the TU answers the INVITE 487, then the CANCEL gets 200, "The To tag of the response
   * to the CANCEL and the To tag in the response to the original request SHOULD be the same".
   * A CANCEL that crossed the final response still matches the INVITE's transaction (RFC 6026
   * Accepted, or Completed): "as long as the CANCEL matched an existing transaction, the UAS
   * answers the CANCEL request itself with a 200", the INVITE unchanged. 481 when none matches.
   */
  #cancel(transaction: ServerTransaction, cancel: SipRequest): void {
    const invite = this.transactions.cancelled(cancel);
    if (!invite) return transaction.respond(createResponse(cancel, 481));
    const toTag = this.#delegate.onCancel(invite);
    transaction.respond(createResponse(cancel, 200, { toTag }));
  }

  /** §22.2-22.3: whether a 401/407 is answered with (new) credentials; false hands it to the caller. */
  #retry(request: SipRequest, response: SipResponse, answeredOnce: boolean): boolean {
    if (!this.credentials || request.method === 'CANCEL' || request.method === 'ACK') return false;
    try {
      const challenge = this.credentials.learn(response);
      return !answeredOnce || challenge.stale;
    } catch (err) {
      this.#log().warn('sip-ws: a challenge could not be answered', { error: (err as Error).message });
      return false;
    }
  }

  /** RFC 7118 §5.2: `SIP/2.0/WS <random>.invalid;branch=z9hG4bK...`. */
  #via() {
    return {
      protocol: 'SIP',
      version: '2.0',
      transport: this.#transport.viaTransport,
      host: this.#transport.host,
      port: undefined,
      params: new Map([['branch', newBranch()]]),
    };
  }
}

/**
 * §8.1.1.8, §12.1.1: a request that makes a dialog has exactly one Contact, a SIP URI, and
 * Record-Route values that parse: the dialog is built from them when it is answered.
 */
function dialogForming(request: SipRequest): boolean {
  try {
    const contacts = request.contacts;
    request.headers.all(RECORD_ROUTE);
    return contacts.length === 1 && isSipUri(contacts[0]!.uri);
  } catch {
    return false;
  }
}

/** §8.2.2.2: what names a request apart from its branch: From tag, Call-ID and CSeq. */
function mergeKey(request: SipRequest): string {
  return `${tagOf(request.from) ?? ''}\n${request.callId}\n${request.cseq.seq} ${request.cseq.method}`;
}

/** §22.2: the request sent again with credentials: same Call-ID, From and To, CSeq one higher. */
function nextAttempt(previous: SipRequest): SipRequest {
  const copy = new SipRequest(previous.method, previous.uri, undefined, previous.body);
  for (const field of previous.headers.fields) copy.headers.append(field.name, field.value);
  copy.headers.put(CSEQ, [{ seq: previous.cseq.seq + 1, method: previous.method }]);
  return copy;
}
