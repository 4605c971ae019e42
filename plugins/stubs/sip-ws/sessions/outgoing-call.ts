import { Dialog } from '../dialogs/dialog.js';
import {
  CALL_ID,
  CONTACT,
  CONTENT_TYPE,
  CSEQ,
  FROM,
  Headers,
  MAX_FORWARDS,
  REQUIRE,
  ROUTE,
  SipRequest,
  type SipResponse,
  SUPPORTED as SUPPORTED_HEADER,
  TO,
  VIA,
} from '../message/index.js';
import { newTag } from '../user-agent-core/identifiers.js';
import { SUPPORTED, withTag } from '../user-agent-core/responses.js';
import { sipUriOf } from './addresses.js';
import { Call, SDP, sdpOf } from './call.js';
import type { AppRequest } from './session-host.js';

/**
 * The UAC side (§13.2): the app's offer becomes an INVITE. Its first provisional response
 * answers the app's request (the domain has the offer); 180-199 are `progress`; a 2xx is ACKed
 * (§13.2.2.4) and its SDP is the `answer`; a 3xx-6xx final after that is a coded `reject`,
 * before it the answer to the app's request. A `bye` before the answer CANCELs (§9.1), once a
 * provisional response allows it. RFC 3262 §4: the INVITE says `Supported: 100rel`; a reliable
 * provisional response (Require: 100rel, RSeq) gets its PRACK in its early dialog, once.
 */
export class OutgoingCall extends Call {
  protected readonly ownsCallId = true;
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
    this.#invite = this.host.core.send(new SipRequest('INVITE', to.uri, h, sdp), (res, unanswered) =>
      this.#response(res, unanswered),
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

  #response(res: SipResponse, unanswered: boolean): void {
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
    // §17.1.1.2: Timer B (or a lost connection) before any 1xx, the INVITE sent: it may be ringing.
    this.#answerOffer(status, res.reason, unanswered);
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
