import type { ConversationBody } from '../../../../core/generated/types.js';
import { Dialog } from '../dialogs/dialog.js';
import { REQUIRE, type SipRequest, SUPPORTED as SUPPORTED_HEADER } from '../message/index.js';
import type { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { newTag } from '../user-agent-core/identifiers.js';
import { ReliableProvisionals } from '../user-agent-core/reliable-provisionals.js';
import { createResponse } from '../user-agent-core/responses.js';
import { Call, SDP, sdpOf } from './call.js';
import { sipStatusOf } from './codes.js';
import type { AppRequest, SessionHost } from './session-host.js';

/**
 * The UAS side (§13.3): an INVITE becomes the app's `offer`; once the runtime took it the
 * caller hears 180 (Ringing). The app's `answer` is the 2xx with its SDP, repeated until the
 * ACK (§13.3.1.4); its `reject` the final response with its code; its `progress` a 18x; a
 * `bye` before answering declines (603). A CANCEL (§9.2) ends it as a `bye` with reason
 * "cancelled". RFC 3262 §3: for a caller that requires or supports `100rel`, the 18x are
 * reliable (RSeq, sent again until their PRACK, in the early dialog they make).
 */
export class IncomingCall extends Call {
  protected readonly ownsCallId = false;
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
