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
  RECORD_ROUTE,
  ROUTE,
  type SipMessage,
  SipRequest,
  SipResponse,
  TO,
  VIA,
} from '../message/index.js';
import type { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { newTag } from '../user-agent-core/identifiers.js';
import { createResponse, withTag } from '../user-agent-core/responses.js';
import { sipUriOf } from './addresses.js';
import { codeOf, sipStatusOf } from './codes.js';
import type { AppRequest, SessionHost } from './session-host.js';

const SDP = { type: 'application', subtype: 'sdp', params: new Map() };

/** The SDP a message carries, when it carries one (RFC 3264 offer or answer). */
export function sdpOf(message: SipMessage): string | undefined {
  const t = message.contentType;
  const ok = t?.type === 'application' && t.subtype === 'sdp' && typeof message.body === 'string';
  return ok && message.body !== '' ? (message.body as string) : undefined;
}

/**
 * One call: an INVITE dialog (RFC 3261 §13-15) carrying an SDP offer/answer (RFC 3264),
 * spoken to the app as canonical call bodies under one `callId`. The two roles are
 * {@link OutgoingCall} and {@link IncomingCall}; what a dialog does in either is here.
 */
export abstract class Call {
  dialog: Dialog | undefined;
  ended = false;

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

  /** §15.1.2, §14: a request within the call's dialog. */
  receive(transaction: ServerTransaction, request: SipRequest): void {
    const respond = (status: number) => transaction.respond(createResponse(request, status));
    switch (request.method) {
      case 'BYE':
        respond(200);
        this.tell({ kind: 'bye', callId: this.callId });
        return this.end();
      case 'INVITE':
        // §14.2: a re-INVITE this side cannot take leaves the session as it was.
        return respond(488);
      case 'OPTIONS':
        return respond(200);
      default:
        return respond(405);
    }
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
      app?.respond(res.status === 481 ? 200 : codeOf(res.status), `${res.status} ${res.reason}`);
    });
  }

  /** Tells the app, through the conversation with the peer. */
  protected tell(body: ConversationBody): void {
    this.host.deliver(this.peer, body);
  }

  protected end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.dialog) this.host.core.forget(this.dialog);
    this.onEnded(this);
  }
}

/**
 * The UAC side (§13.2): the app's offer becomes an INVITE. Its first provisional response
 * answers the app's request (the domain has the offer); 180-199 are `progress`; a 2xx is ACKed
 * (§13.2.2.4) and its SDP is the `answer`; a 3xx-6xx final after that is a coded `reject`,
 * before it the answer to the app's request. A `bye` before the answer CANCELs (§9.1), once a
 * provisional response allows it.
 */
export class OutgoingCall extends Call {
  state: 'calling' | 'early' | 'confirmed' = 'calling';
  #offer: AppRequest | undefined;
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
    h.put(CONTENT_TYPE, [SDP]);
    this.#invite = this.host.core.send(new SipRequest('INVITE', to.uri, h, sdp), (res, unanswered) =>
      this.#response(res, unanswered),
    );
  }

  hangUp(app?: AppRequest): void {
    if (this.ended) return app?.respond(200, 'the call had ended');
    if (this.state === 'confirmed') return this.bye(app);
    this.#hangup = { app };
    if (this.state === 'early') this.#cancel();
  }

  #response(res: SipResponse, unanswered: boolean): void {
    const status = res.status;
    if (status < 200) {
      this.#answerOffer(200, `${status} ${res.reason}`);
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
    // §17.1.1.2: Timer B (or a lost connection) before any 1xx, the INVITE sent: it may be ringing.
    this.#answerOffer(codeOf(status), `${status} ${res.reason}`, unanswered);
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
      this.host.core.dialogs.set(this.dialog.key, this.dialog);
    } else if (this.dialog.remoteTag !== (res.to.params.get('tag') ?? '')) {
      return; // A second fork answered: RFC 3261 §13.2.2.4 would ACK and BYE it; it is left to time out.
    }
    this.host.core.ack(this.dialog, invite);
    if (this.state === 'confirmed') return;
    this.state = 'confirmed';
    this.#answerOffer(200, `${res.status} ${res.reason}`);
    if (this.#hangup) return this.bye(this.#hangup.app);
    const sdp = sdpOf(res);
    if (sdp === undefined) {
      this.tell({ kind: 'reject', callId: this.callId, code: 488, reason: 'the 2xx carried no SDP answer' });
      return this.bye();
    }
    this.tell({ kind: 'answer', callId: this.callId, sdp });
  }

  #answerOffer(code: number, description: string, unanswered = false): void {
    if (unanswered) this.#offer?.unknown(code, description);
    else this.#offer?.respond(code, description);
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
 * "cancelled".
 */
export class IncomingCall extends Call {
  state: 'offered' | 'ringing' | 'confirmed' = 'offered';
  readonly #toTag = newTag();

  constructor(
    host: SessionHost,
    peer: string,
    callId: string,
    private readonly transaction: InviteServerTransaction,
    private readonly invite: SipRequest,
    onEnded: (call: Call) => void,
  ) {
    super(host, peer, callId, invite.callId, onEnded);
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
      this.transaction.respond(this.#dialogResponse(180));
    });
    if (!taken) this.#final(480);
  }

  /** The app's SDP answer: the 2xx, and the dialog (§12.1.1). */
  answer(app: AppRequest, sdp: string): void {
    if (this.state !== 'ringing' || this.ended) return app.respond(404, `call ${this.callId} is not ringing`);
    this.state = 'confirmed';
    this.dialog = Dialog.asUas(this.invite, this.#toTag);
    this.host.core.dialogs.set(this.dialog.key, this.dialog);
    const res = this.#dialogResponse(200, sdp);
    this.host.core.accept(this.transaction, res, this.dialog, () => {
      this.tell({ kind: 'bye', callId: this.callId, reason: 'no ACK for the answer' });
      this.bye();
    });
    app.respond(200);
  }

  /** The app's refusal: the final response with its code (RFC 3261 §21.4-21.6). */
  reject(app: AppRequest, code: number): void {
    if (this.state === 'confirmed' || this.ended)
      return app.respond(404, `call ${this.callId} is not ringing`);
    this.#final(code);
    app.respond(200);
  }

  /** The app's provisional state, 180-199. */
  progress(app: AppRequest, code: number): void {
    if (this.state !== 'ringing' || this.ended || code < 180) return app.respond(400, `no ${code} now`);
    this.transaction.respond(this.#dialogResponse(code));
    app.respond(200);
  }

  hangUp(app?: AppRequest): void {
    if (this.ended) return app?.respond(200, 'the call had ended');
    if (this.state === 'confirmed') return this.bye(app);
    this.#final(603);
    app?.respond(200);
  }

  /** §9.2: the caller cancelled before an answer: 487 to the INVITE, `bye` to the app. */
  cancelled(): void {
    if (this.ended || this.state === 'confirmed') return;
    this.#final(487);
    this.tell({ kind: 'bye', callId: this.callId, reason: 'cancelled' });
  }

  #final(status: number): void {
    this.transaction.respond(createResponse(this.invite, status, { toTag: this.#toTag }));
    this.end();
  }

  /** §12.1.1: a response that makes a dialog copies Record-Route and has a Contact; a 2xx carries the answer. */
  #dialogResponse(status: number, sdp?: string): SipResponse {
    const { headers, reason } = createResponse(this.invite, status, { toTag: this.#toTag });
    const rr = this.invite.headers.all(RECORD_ROUTE);
    if (rr.length > 0) headers.put(RECORD_ROUTE, rr);
    headers.put(CONTACT, [this.host.contact]);
    if (sdp === undefined) return new SipResponse(status, reason, headers);
    headers.put(CONTENT_TYPE, [SDP]);
    return new SipResponse(status, reason, headers, sdp);
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
