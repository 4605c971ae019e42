import type { ConversationBody } from '../../../../core/generated/types.js';
import type { Dialog } from '../dialogs/dialog.js';
import {
  CONTENT_TYPE,
  type MediaType,
  type SipMessage,
  SipRequest,
  type SipResponse,
} from '../message/index.js';
import type { Timer } from '../timers/timer-queue.js';
import { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { randomInt } from '../user-agent-core/identifiers.js';
import { createResponse, type ResponseOptions, SUPPORTED } from '../user-agent-core/responses.js';
import { answerWith, sipStatusOf } from './codes.js';
import { DEFAULT_DTMF_MS, DTMF_RELAY, formatDtmfRelay, isDtmf, parseDtmfRelay } from './dtmf.js';
import type { AppRequest, SessionHost } from './session-host.js';

/** RFC 4566 §8.1: the media type of a session description. */
export const SDP: MediaType = { type: 'application', subtype: 'sdp', params: new Map() };

/** The SDP a message carries, when it carries one (RFC 3264 offer or answer). */
export function sdpOf(message: SipMessage): string | undefined {
  const t = message.contentType;
  const ok = t?.type === 'application' && t.subtype === 'sdp' && typeof message.body === 'string';
  return ok && message.body !== '' ? (message.body as string) : undefined;
}

/**
 * One call: an INVITE dialog (RFC 3261 §13-15) carrying an SDP offer/answer (RFC 3264),
 * spoken to the app as canonical call bodies under one `callId`. The two roles are
 * {@link OutgoingCall} and {@link IncomingCall}; what a dialog does in either is here:
 *
 * - renegotiation (RFC 3264 §8): the app's `update` is a re-INVITE (RFC 3311 §5.1: "it is
 *   RECOMMENDED that a re-INVITE be used instead" of UPDATE in a confirmed dialog), whose 2xx
 *   is the app's `answer` and whose refusal a `reject` that leaves the call as it was; a
 *   re-INVITE or UPDATE with an offer is the app's `update`, its `answer` the 2xx with SDP, its
 *   `reject` the refusal. One offer at a time (§14, RFC 3311 §5.2): glare is 491, and our
 *   re-INVITE refused 491 goes once more after §14.1's random wait.
 * - DTMF: the app's `dtmf` is one INFO per key (application/dtmf-relay); such an INFO is the
 *   app's `dtmf`.
 */
export abstract class Call {
  dialog: Dialog | undefined;
  ended = false;
  /** The far side's offer (re-INVITE or UPDATE) the app has not answered yet. */
  #offered:
    | { readonly transaction: ServerTransaction; readonly request: SipRequest; readonly timer: Timer }
    | undefined;
  /** The app's offer (re-INVITE) not yet answered by the far side. */
  #offering:
    | { readonly app: AppRequest; readonly sdp: string; retried: boolean; answered: boolean }
    | undefined;

  constructor(
    protected readonly host: SessionHost,
    readonly peer: string,
    /** The canonical callId the app knows it by. */
    readonly callId: string,
    /** The SIP Call-ID of its INVITE. */
    readonly sipCallId: string,
    private readonly onEnded: (call: Call) => void,
  ) {}

  /** The app ends the call (a canonical `bye`); `app` is answered once it is over, if given. */
  abstract hangUp(app?: AppRequest): void;

  /** Whether the call is answered (its dialog confirmed). */
  protected abstract get confirmed(): boolean;

  /** §14.1: whether this side made the Call-ID (the caller's), which sets how long it waits after a 491. */
  protected abstract readonly ownsCallId: boolean;

  /** §15.1.2, §14: a request within the call's dialog. */
  receive(transaction: ServerTransaction, request: SipRequest): void {
    const respond = (status: number) => transaction.respond(createResponse(request, status));
    switch (request.method) {
      case 'BYE':
        respond(200);
        this.tell({ kind: 'bye', callId: this.callId });
        return this.end();
      case 'INVITE':
      case 'UPDATE':
        return this.#reoffered(transaction, request);
      case 'INFO':
        return this.#info(transaction, request);
      case 'PRACK':
        return this.prack(transaction, request);
      case 'OPTIONS':
        return respond(200);
      default:
        return respond(405);
    }
  }

  /** RFC 3262 §3: a PRACK; only a call that sent reliable provisional responses takes one. */
  protected prack(transaction: ServerTransaction, request: SipRequest): void {
    transaction.respond(createResponse(request, 481));
  }

  /** The app's new offer in the established call: a re-INVITE. */
  renegotiate(app: AppRequest, sdp: string): void {
    if (this.ended || !this.confirmed || !this.dialog)
      return app.respond(409, `call ${this.callId} is not established`);
    if (this.#offered || this.#offering)
      return app.respond(491, `call ${this.callId} has an offer waiting for its answer`);
    this.#offering = { app, sdp, retried: false, answered: false };
    this.#reinvite();
  }

  /** The app's SDP answer: to the far side's pending offer when there is one. */
  answer(app: AppRequest, sdp: string): void {
    const offered = this.#takeOffered();
    if (!offered) return this.answerCall(app, sdp);
    const res = createResponse(offered.request, 200, {
      contact: this.host.contact,
      body: { type: SDP, text: sdp },
    });
    if (offered.transaction instanceof InviteServerTransaction) {
      this.host.core.accept(offered.transaction, res, this.dialog!, () => this.#noAck());
    } else {
      offered.transaction.respond(res);
    }
    app.respond(200);
  }

  /** The answer to the call's first offer (an incoming call's); the base has none to answer. */
  protected answerCall(app: AppRequest, _sdp: string): void {
    app.respond(404, `no offer waits for an answer in call ${this.callId}`);
  }

  /** The app's `reject`: of the far side's pending offer (the call stays as it was), else of the call. */
  reject(app: AppRequest, code: number): void {
    const offered = this.#takeOffered();
    if (!offered) return this.rejectCall(app, code);
    offered.transaction.respond(createResponse(offered.request, code));
    app.respond(200);
  }

  /** The app refuses the call itself: the caller's side hangs up. */
  protected rejectCall(app: AppRequest, _code: number): void {
    this.hangUp(app);
  }

  /** The app's `dtmf`: one INFO per key, in order; answered once the last is, or with the first failure. */
  dtmf(app: AppRequest, digits: string, duration = DEFAULT_DTMF_MS): void {
    // A raw bus message skips the schema: what goes into the INFO body is checked here too.
    if (!isDtmf(digits, duration)) return app.respond(400, 'digits are 0-9 * # A-D, duration 1-60000 ms');
    if (this.ended || !this.confirmed || !this.dialog)
      return app.respond(409, `call ${this.callId} is not established`);
    const next = (i: number): void => {
      if (i === digits.length) return app.respond(200);
      if (this.ended || !this.dialog) return app.respond(409, `call ${this.callId} ended`);
      const info = withBody(
        this.dialog.request('INFO', undefined),
        DTMF_RELAY,
        formatDtmfRelay(digits[i]!, duration),
      );
      this.#send(info, (res) => {
        if (res.status < 200) return;
        if (res.status < 300) return next(i + 1);
        this.#failed(res);
        answerWith(app, res);
      });
    };
    next(0);
  }

  /** §15.1.1: sends BYE in the dialog; the app's request is answered by the BYE's final response. */
  protected bye(app?: AppRequest): void {
    const dialog = this.dialog;
    this.end();
    if (!dialog) return app?.respond(200);
    this.host.core.send(dialog.request('BYE', undefined), (res, unanswered) => {
      if (res.status < 200) return;
      // §17.1.2.2: Timer F (or a lost connection) with the BYE sent: the far side may have it.
      if (unanswered) return app?.unknown(res.status, res.reason);
      // 481: the far side had ended it already; over either way.
      if (res.status === 481) app?.respond(200);
      else if (app) answerWith(app, res);
    });
  }

  /** Tells the app, through the conversation with the peer. */
  protected tell(body: ConversationBody): void {
    this.host.deliver(this.peer, body);
  }

  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    // §15.1.2: "It is RECOMMENDED that a 487 (Request Terminated) response be generated to those pending requests."
    const offered = this.#takeOffered();
    offered?.transaction.respond(createResponse(offered.request, 487));
    if (this.#offering?.answered === false) this.#offering.app.respond(409, `call ${this.callId} ended`);
    this.#offering = undefined;
    if (this.dialog) this.host.core.forget(this.dialog);
    this.onEnded(this);
  }

  /** §9.2: a CANCEL for `transaction`, a re-INVITE of this call: 487, the session stays as it was. */
  cancelledOffer(transaction: ServerTransaction): void {
    if (this.#offered?.transaction === transaction) this.#refuseOffered(transaction.request, 487);
  }

  /** The far side's offer waiting for the app, no longer waiting. */
  #takeOffered() {
    const offered = this.#offered;
    offered?.timer.cancel();
    this.#offered = undefined;
    return offered;
  }

  /** Refuses the far side's offer `request` with `status`, if it still waits for the app. */
  #refuseOffered(request: SipRequest, status: number): void {
    if (this.#offered?.request !== request) return;
    this.#takeOffered()!.transaction.respond(createResponse(request, status));
  }

  /** §14.2, RFC 3311 §5.2: an offer from the far side within the dialog. */
  #reoffered(transaction: ServerTransaction, request: SipRequest): void {
    const respond = (status: number, options?: ResponseOptions) =>
      transaction.respond(createResponse(request, status, options));
    if (!this.confirmed) return respond(491);
    // §14.2: "MUST return a 491 (Request Pending)" while our own offer is in progress.
    if (this.#offering) return respond(491);
    // §14.2: "MUST return a 500 [...] and MUST include a Retry-After header field with a randomly
    // chosen value of between 0 and 10 seconds" while an earlier offer waits for its answer.
    if (this.#offered) return respond(500, { extra: [['Retry-After', String(randomInt(11))]] });
    const sdp = sdpOf(request);
    if (sdp === undefined) {
      // An UPDATE without an offer only refreshes the target (RFC 3311 §5.2); a re-INVITE without
      // one asks us for an offer, which only the app could make: refused, the session unchanged.
      return request.method === 'UPDATE' ? respond(200, { contact: this.host.contact }) : respond(488);
    }
    // An offer the app leaves unanswered would hold the dialog's offers forever (500 to each):
    // 408 after 32·T1, before the far side's own UPDATE transaction gives up (Timer F, 64·T1).
    const timer = this.host.timers.after(this.host.core.transactions.timers.timeout / 2, () =>
      this.#refuseOffered(request, 408),
    );
    this.#offered = { transaction, request, timer };
    const update: ConversationBody = { kind: 'update', callId: this.callId, sdp };
    const taken = this.host.deliver(this.peer, update, (code) => {
      if (code >= 300) this.#refuseOffered(request, sipStatusOf(code));
    });
    if (!taken) this.#refuseOffered(request, 480);
  }

  /**
   * §14.1: the app's offer as a re-INVITE. As for the call's first offer, the app's request is
   * answered by the first response (the domain has the offer); the 2xx is ACKed and its SDP is
   * the app's `answer`; a refusal is a `reject` that leaves the call as it was.
   */
  #reinvite(): void {
    const offering = this.#offering!;
    const dialog = this.dialog!;
    const invite = withBody(dialog.request('INVITE', this.host.contact), SDP, offering.sdp);
    invite.headers.append('Supported', SUPPORTED.join(', '));
    const answerApp = (code = 200, description?: string) => {
      if (!offering.answered) offering.app.respond(code, description);
      offering.answered = true;
    };
    const out = this.#send(invite, (res) => {
      // §13.2.2.4: every 2xx, retransmissions included, gets its ACK.
      if (res.status >= 200 && res.status < 300 && !this.ended) this.host.core.ack(dialog, out.request);
      if (this.#offering !== offering) return;
      if (res.status < 200) return answerApp();
      this.#offering = undefined;
      if (res.status < 300) {
        answerApp();
        const answer = sdpOf(res);
        return this.tell(
          answer === undefined
            ? { kind: 'reject', callId: this.callId, code: 488, reason: 'the 2xx carried no SDP answer' }
            : { kind: 'answer', callId: this.callId, sdp: answer },
        );
      }
      if (res.status === 491 && !offering.retried) {
        // §14.1: "If the UAC [...] is the owner of the Call-ID [...] between 2.1 and 4 seconds in
        // units of 10 ms. If the UAC is not the owner [...] between 0 and 2 seconds".
        this.#offering = offering;
        offering.retried = true;
        const wait = this.ownsCallId ? 2100 + 10 * randomInt(191) : 10 * randomInt(201);
        this.host.timers.after(wait, () => {
          if (this.#offering !== offering || this.ended) return;
          if (!this.#offered) return this.#reinvite();
          // The far side's offer came meanwhile: ours gives way.
          this.#offering = undefined;
          answerApp();
          this.tell({ kind: 'reject', callId: this.callId, code: 491, reason: 'Request Pending' });
        });
        return;
      }
      if (res.status === 481 || res.status === 408) {
        if (!offering.answered) answerWith(offering.app, res);
        offering.answered = true;
        this.#failed(res);
        return;
      }
      answerApp();
      this.tell({ kind: 'reject', callId: this.callId, code: res.status, reason: res.reason.slice(0, 256) });
    });
  }

  /** RFC 6086 §4.2.2: an INFO; dtmf-relay goes to the app, the rest is refused. */
  #info(transaction: ServerTransaction, request: SipRequest): void {
    const respond = (status: number, options?: ResponseOptions) =>
      transaction.respond(createResponse(request, status, options));
    // "the UA MUST send a 469 (Bad Info Package) response [...] which contains a Recv-Info header
    // field with Info Packages for which the UA is willing to receive": none.
    if (request.headers.has('Info-Package')) return respond(469, { extra: [['Recv-Info', '']] });
    const type = request.contentType;
    if (request.body === '' && type === undefined) return respond(200);
    if (
      type?.type !== DTMF_RELAY.type ||
      type.subtype !== DTMF_RELAY.subtype ||
      typeof request.body !== 'string'
    )
      return respond(415);
    const key = parseDtmfRelay(request.body);
    if (!key) return respond(400, { reason: 'No valid Signal in the dtmf-relay body' });
    const body: ConversationBody =
      key.duration === undefined
        ? { kind: 'dtmf', callId: this.callId, digits: key.digit }
        : { kind: 'dtmf', callId: this.callId, digits: key.digit, duration: key.duration };
    if (!this.host.deliver(this.peer, body, (code) => respond(sipStatusOf(code)))) respond(480);
  }

  /** Sends `request` in the dialog, keeping the dialog's CSeq past any retry with credentials. */
  #send(request: SipRequest, onResponse: (res: SipResponse) => void) {
    const dialog = this.dialog!;
    const out = this.host.core.send(request, (res) => {
      dialog.localSeq = Math.max(dialog.localSeq, out.request.cseq.seq);
      onResponse(res);
    });
    return out;
  }

  /**
   * §12.2.1.2: "If the response for a request within a dialog is a 481 (Call/Transaction Does
   * Not Exist) or a 408 (Request Timeout), the UAC SHOULD terminate the dialog": the app hears
   * `bye`.
   */
  #failed(res: SipResponse): void {
    if (res.status !== 481 && res.status !== 408) return;
    this.tell({ kind: 'bye', callId: this.callId, reason: `${res.status} ${res.reason}`.slice(0, 256) });
    if (res.status === 408) this.bye();
    else this.end();
  }

  /** §13.3.1.4: no ACK for our 2xx in 64·T1: the call ends with a BYE. */
  #noAck(): void {
    this.tell({ kind: 'bye', callId: this.callId, reason: 'no ACK for the answer' });
    this.bye();
  }
}

/** `request` with `text` as its body, of type `type`. */
export function withBody(request: SipRequest, type: MediaType, text: string): SipRequest {
  request.headers.put(CONTENT_TYPE, [type]);
  return new SipRequest(request.method, request.uri, request.headers, text);
}
