import type { ConversationBody } from '../../../../core/generated/types.js';
import { Dialog } from '../dialogs/dialog.js';
import {
  CALL_ID,
  CONTACT,
  CONTENT_TYPE,
  CSEQ,
  FROM,
  Headers,
  MAX_FORWARDS,
  type MediaType,
  REQUIRE,
  ROUTE,
  type SipMessage,
  SipRequest,
  type SipResponse,
  SUPPORTED as SUPPORTED_HEADER,
  TO,
  VIA,
} from '../message/index.js';
import type { Timer } from '../timers/timer-queue.js';
import { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { newTag, randomInt } from '../user-agent-core/identifiers.js';
import { ReliableProvisionals } from '../user-agent-core/reliable-provisionals.js';
import { createResponse, type ResponseOptions, SUPPORTED, withTag } from '../user-agent-core/responses.js';
import { sipUriOf } from './addresses.js';
import { answerWith, sipStatusOf } from './codes.js';
import { DEFAULT_DTMF_MS, DTMF_RELAY, formatDtmfRelay, isDtmf, parseDtmfRelay } from './dtmf.js';
import type { AppRequest, SessionHost } from './session-host.js';

const SDP: MediaType = { type: 'application', subtype: 'sdp', params: new Map() };

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
    this.host.core.send(dialog.request('BYE', undefined), (res) => {
      // 481: the far side had ended it already; over either way.
      if (res.status < 200) return;
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
        const wait = this instanceof OutgoingCall ? 2100 + 10 * randomInt(191) : 10 * randomInt(201);
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

/**
 * The UAC side (§13.2): the app's offer becomes an INVITE. Its first provisional response
 * answers the app's request (the domain has the offer); 180-199 are `progress`; a 2xx is ACKed
 * (§13.2.2.4) and its SDP is the `answer`; a 3xx-6xx final after that is a coded `reject`,
 * before it the answer to the app's request. A `bye` before the answer CANCELs (§9.1), once a
 * provisional response allows it. RFC 3262 §4: the INVITE says `Supported: 100rel`; a reliable
 * provisional response (Require: 100rel, RSeq) gets its PRACK in its early dialog, once.
 */
export class OutgoingCall extends Call {
  state: 'calling' | 'early' | 'confirmed' = 'calling';
  #offer: AppRequest | undefined;
  /** RFC 3262 §4: per To tag, the early dialog of reliable provisional responses and the last RSeq. */
  readonly #early = new Map<string, { readonly dialog: Dialog; rseq: number }>();
  /** The app hung up before the call was answered (its request, if it made one). */
  #hangup: { readonly app: AppRequest | undefined } | undefined;
  #cancelled = false;
  #invite: { readonly request: SipRequest } | undefined;

  /** Sends the INVITE carrying `sdp`. */
  start(app: AppRequest, sdp: string): void {
    this.#offer = app;
    const to = { displayName: undefined, uri: sipUriOf(this.peer), params: new Map() };
    const h = new Headers();
    h.put(MAX_FORWARDS, [70]);
    h.put(TO, [to]);
    h.put(FROM, [withTag(this.host.local, newTag())]);
    h.put(CALL_ID, [this.sipCallId]);
    h.put(CSEQ, [{ seq: 1, method: 'INVITE' }]);
    h.put(CONTACT, [this.host.contact]);
    h.put(SUPPORTED_HEADER, [...SUPPORTED]);
    h.put(CONTENT_TYPE, [SDP]);
    this.#invite = this.host.core.send(new SipRequest('INVITE', to.uri, h, sdp), (res) =>
      this.#response(res),
    );
  }

  protected get confirmed(): boolean {
    return this.state === 'confirmed';
  }

  hangUp(app?: AppRequest): void {
    if (this.ended) return app?.respond(200, 'the call had ended');
    if (this.state === 'confirmed') return this.bye(app);
    this.#hangup = { app };
    if (this.state === 'early') this.#cancel();
  }

  #response(res: SipResponse): void {
    const status = res.status;
    if (status < 200) {
      if (!this.#reliable(res)) return;
      this.#answerOffer(200, `SIP ${status} ${res.reason}`);
      if (this.state === 'calling') this.state = 'early';
      if (status > 100 && !this.#hangup) {
        this.tell({
          kind: 'progress',
          callId: this.callId,
          code: status,
          description: res.reason.slice(0, 256),
        });
      }
      if (this.#hangup) this.#cancel();
      return;
    }
    if (status < 300) return this.#accepted(res);
    this.#answerOffer(status, res.reason);
    if (this.#hangup) this.#hangup.app?.respond(200);
    else if (!this.ended)
      this.tell({ kind: 'reject', callId: this.callId, code: status, reason: res.reason.slice(0, 256) });
    this.end();
  }

  /** §13.2.2.4: a 2xx, or one retransmitted: ACK it; the first also makes the dialog. */
  #accepted(res: SipResponse): void {
    const invite = this.#invite!.request;
    if (!this.dialog) {
      this.dialog = Dialog.asUac(invite, res);
      // §13.2.2.4: an early dialog becomes this one; its PRACKs used CSeq numbers already.
      const early = this.#early.get(this.dialog.remoteTag);
      if (early) this.dialog.localSeq = Math.max(this.dialog.localSeq, early.dialog.localSeq);
      this.#early.clear();
      this.host.core.dialogs.set(this.dialog.key, this.dialog);
    } else if (this.dialog.remoteTag !== (res.to.params.get('tag') ?? '')) {
      return; // A second fork answered: RFC 3261 §13.2.2.4 would ACK and BYE it; it is left to time out.
    }
    this.host.core.ack(this.dialog, invite);
    if (this.state === 'confirmed') return;
    this.state = 'confirmed';
    this.#answerOffer(200, `SIP ${res.status} ${res.reason}`);
    if (this.#hangup) return this.bye(this.#hangup.app);
    const sdp = sdpOf(res);
    if (sdp === undefined) {
      this.tell({ kind: 'reject', callId: this.callId, code: 488, reason: 'the 2xx carried no SDP answer' });
      return this.bye();
    }
    this.tell({ kind: 'answer', callId: this.callId, sdp });
  }

  /**
   * RFC 3262 §4: PRACKs a reliable provisional response (in its early dialog, RAck naming it).
   * False for one to discard: "retransmissions of that response MUST be discarded", and one
   * out of order is not acknowledged. An unreliable one is kept (true).
   */
  #reliable(res: SipResponse): boolean {
    const rseq = Number(res.headers.get('RSeq'));
    const tag = res.to.params.get('tag');
    if (!res.headers.all(REQUIRE).includes('100rel') || !Number.isInteger(rseq) || rseq < 1 || !tag)
      return true;
    let early = this.#early.get(tag);
    if (early && rseq !== early.rseq + 1) return false;
    const invite = this.#invite!.request;
    if (!early) {
      early = { dialog: Dialog.asUac(invite, res), rseq };
      this.#early.set(tag, early);
    }
    early.rseq = rseq;
    const prack = early.dialog.request('PRACK', undefined);
    prack.headers.append('RAck', `${rseq} ${invite.cseq.seq} ${invite.cseq.method}`);
    this.host.core.send(prack, () => {});
    return true;
  }

  #answerOffer(code: number, description: string): void {
    this.#offer?.respond(code, description);
    this.#offer = undefined;
  }

  /** §9.1: CANCEL copies the INVITE's Request-URI, Call-ID, To, From, CSeq number, top Via and Route. */
  #cancel(): void {
    if (this.#cancelled || !this.#invite) return;
    this.#cancelled = true;
    const invite = this.#invite.request;
    const h = new Headers();
    h.put(VIA, [invite.via]);
    h.put(MAX_FORWARDS, [70]);
    h.put(TO, [invite.to]);
    h.put(FROM, [invite.from]);
    h.put(CALL_ID, [invite.callId]);
    h.put(CSEQ, [{ seq: invite.cseq.seq, method: 'CANCEL' }]);
    const routes = invite.headers.all(ROUTE);
    if (routes.length > 0) h.put(ROUTE, routes);
    // Its own final response says little: the INVITE's 487 (or a 2xx, then BYE) ends the call.
    this.host.core.send(new SipRequest('CANCEL', invite.uri, h), () => {});
  }
}

/**
 * The UAS side (§13.3): an INVITE becomes the app's `offer`; once the runtime took it the
 * caller hears 180 (Ringing). The app's `answer` is the 2xx with its SDP, repeated until the
 * ACK (§13.3.1.4); its `reject` the final response with its code; its `progress` a 18x; a
 * `bye` before answering declines (603). A CANCEL (§9.2) ends it as a `bye` with reason
 * "cancelled". RFC 3262 §3: for a caller that requires or supports `100rel`, the 18x are
 * reliable (RSeq, sent again until their PRACK, in the early dialog they make).
 */
export class IncomingCall extends Call {
  state: 'offered' | 'ringing' | 'confirmed' = 'offered';
  readonly #toTag = newTag();
  /** RFC 3262 §3: set when the INVITE requires or supports reliable provisional responses. */
  readonly #reliable: ReliableProvisionals | undefined;

  constructor(
    host: SessionHost,
    peer: string,
    callId: string,
    private readonly transaction: InviteServerTransaction,
    /** The INVITE that offered the call. */
    readonly invite: SipRequest,
    onEnded: (call: Call) => void,
  ) {
    super(host, peer, callId, invite.callId, onEnded);
    // RFC 3262 §3: reliable when the caller requires it, and (a MAY) when it supports it.
    const reliable = [...invite.headers.all(REQUIRE), ...invite.headers.all(SUPPORTED_HEADER)];
    if (reliable.includes('100rel')) {
      this.#reliable = new ReliableProvisionals(
        transaction,
        host.timers,
        host.core.transactions.timers.t1,
        () => {
          this.tell({
            kind: 'bye',
            callId: this.callId,
            reason: 'no PRACK for a reliable provisional response',
          });
          this.#final(500, 'No PRACK');
        },
      );
    }
  }

  protected get confirmed(): boolean {
    return this.state === 'confirmed';
  }

  /** Hands the offer to the app; answers 488 to an INVITE without an SDP offer. */
  start(): void {
    const sdp = sdpOf(this.invite);
    if (sdp === undefined) return this.#final(488);
    const media = mediaOf(sdp);
    const offer: ConversationBody =
      media.length > 0
        ? { kind: 'offer', callId: this.callId, sdp, media }
        : { kind: 'offer', callId: this.callId, sdp };
    const taken = this.host.deliver(this.peer, offer, (code) => {
      if (this.ended || this.state !== 'offered') return;
      if (code >= 300) return this.#final(sipStatusOf(code));
      this.state = 'ringing';
      this.#provisional(180);
    });
    if (!taken) this.#final(480);
  }

  /** The app's SDP answer to the call's offer: the 2xx, and the dialog (§12.1.1). */
  protected override answerCall(app: AppRequest, sdp: string): void {
    if (this.state !== 'ringing' || this.ended) return app.respond(404, `call ${this.callId} is not ringing`);
    this.state = 'confirmed';
    this.#reliable?.stop();
    const dialog = this.#dialog();
    const res = createResponse(this.invite, 200, {
      toTag: this.#toTag,
      contact: this.host.contact,
      body: { type: SDP, text: sdp },
    });
    this.host.core.accept(this.transaction, res, dialog, () => {
      this.tell({ kind: 'bye', callId: this.callId, reason: 'no ACK for the answer' });
      this.bye();
    });
    app.respond(200);
  }

  /** The app's refusal of the call: the final response with its code (RFC 3261 §21.4-21.6). */
  protected override rejectCall(app: AppRequest, code: number): void {
    if (this.state === 'confirmed' || this.ended)
      return app.respond(404, `call ${this.callId} is not ringing`);
    this.#final(code);
    app.respond(200);
  }

  /** The app's provisional state, 180-199. */
  progress(app: AppRequest, code: number): void {
    if (this.state !== 'ringing' || this.ended || code < 180) return app.respond(400, `no ${code} now`);
    this.#provisional(code);
    app.respond(200);
  }

  hangUp(app?: AppRequest): void {
    if (this.ended) return app?.respond(200, 'the call had ended');
    if (this.state === 'confirmed') return this.bye(app);
    this.#final(603);
    app?.respond(200);
  }

  /**
   * §9.2: the caller cancelled before an answer: 487 to the INVITE, `bye` to the app. Returns
   * the To tag of the INVITE's responses, for the CANCEL's 200.
   */
  cancelled(): string {
    if (!this.ended && this.state !== 'confirmed') {
      this.#final(487);
      this.tell({ kind: 'bye', callId: this.callId, reason: 'cancelled' });
    }
    return this.#toTag;
  }

  /** RFC 3262 §3: the PRACK of our reliable provisional response gets 200; any other 481. */
  protected override prack(transaction: ServerTransaction, request: SipRequest): void {
    const acknowledged = this.#reliable?.prack(request) ?? false;
    transaction.respond(createResponse(request, acknowledged ? 200 : 481));
  }

  /**
   * A 18x. §12.1.1: it makes an (early) dialog, so it copies Record-Route and has a Contact;
   * RFC 3262 §3: reliable when the INVITE required it, its early dialog then kept for the PRACK.
   */
  #provisional(status: number): void {
    const options = { toTag: this.#toTag, contact: this.host.contact };
    if (!this.#reliable) return this.transaction.respond(createResponse(this.invite, status, options));
    this.#dialog();
    this.#reliable.send((extra) => createResponse(this.invite, status, { ...options, extra }));
  }

  /** The call's dialog (§12.1.1), made by the first response that needs it. */
  #dialog(): Dialog {
    if (!this.dialog) {
      this.dialog = Dialog.asUas(this.invite, this.#toTag);
      this.host.core.dialogs.set(this.dialog.key, this.dialog);
    }
    return this.dialog;
  }

  #final(status: number, reason?: string): void {
    this.#reliable?.stop();
    this.transaction.respond(createResponse(this.invite, status, { toTag: this.#toTag, reason }));
    this.end();
  }
}

/** The media an SDP offers (RFC 8866 §5.14 m= lines), as canonical names. */
function mediaOf(sdp: string): ('audio' | 'video' | 'data')[] {
  const out = new Set<'audio' | 'video' | 'data'>();
  for (const m of sdp.matchAll(/^m=(audio|video|application) /gm)) {
    out.add(m[1] === 'application' ? 'data' : (m[1] as 'audio' | 'video'));
  }
  return [...out];
}

/** `request` with `text` as its body, of type `type`. */
function withBody(request: SipRequest, type: MediaType, text: string): SipRequest {
  request.headers.put(CONTENT_TYPE, [type]);
  return new SipRequest(request.method, request.uri, request.headers, text);
}
