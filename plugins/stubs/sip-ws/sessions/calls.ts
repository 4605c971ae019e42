import type { CallOfferBody, ConversationBody } from '../../../../core/generated/types.js';
import type { Dialog } from '../dialogs/dialog.js';
import type { SipRequest } from '../message/index.js';
import type { InviteServerTransaction } from '../transactions/invite-server-transaction.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { newCallId } from '../user-agent-core/identifiers.js';
import { createResponse } from '../user-agent-core/responses.js';
import { addressOf } from './addresses.js';
import type { Call } from './call.js';
import { IncomingCall } from './incoming-call.js';
import { OutgoingCall } from './outgoing-call.js';
import type { AppRequest, SessionHost } from './session-host.js';

/** schemas/conversation.schema.json `callId`: 1-128 visible ASCII characters. */
const CALL_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The calls of one user agent: canonical call bodies from the app, INVITE dialogs from the
 * far side, each routed to its {@link Call} by (peer, callId) or by SIP Call-ID.
 */
export class Calls {
  readonly #byCallId = new Map<string, Call>();
  readonly #bySipCallId = new Map<string, Call>();

  constructor(private readonly host: SessionHost) {}

  /** The app offers a call. */
  offer(app: AppRequest, body: CallOfferBody): void {
    if (this.#byCallId.has(key(app.peer, body.callId))) {
      return app.respond(400, `call ${body.callId} with ${app.peer} exists already`);
    }
    const call = new OutgoingCall(this.host, app.peer, body.callId, newCallId(), (c) => this.#forget(c));
    this.#add(call);
    call.start(app, body.sdp);
  }

  /** The app's answer, reject, progress, accept, bye, update, dtmf or candidate for a call (or, for bye, all its calls with the peer). */
  update(app: AppRequest, body: Exclude<ConversationBody, { kind: 'chat' | 'offer' | 'presence' }>): void {
    if (body.kind === 'candidate') {
      return app.respond(
        501,
        'SIP carries ICE candidates in the SDP: send the offer or answer once gathered',
      );
    }
    if (!('callId' in body) || body.callId === undefined) {
      // The whole conversation: a bye ends its calls; accepting or refusing it has no SIP form.
      if (body.kind === 'bye') this.hangUpWith(app.peer);
      return app.respond(200);
    }
    const call = this.#byCallId.get(key(app.peer, body.callId));
    if (!call) return app.respond(404, `no call ${body.callId} with ${app.peer}`);
    switch (body.kind) {
      case 'bye':
        return call.hangUp(app);
      case 'accept':
        // SIP accepts with the answer's 2xx: nothing goes on the wire for this.
        return app.respond(200);
      case 'answer':
        return call.answer(app, body.sdp);
      case 'update':
        return call.renegotiate(app, body.sdp);
      case 'dtmf':
        return call.dtmf(app, body.digits, body.duration);
      case 'progress':
        return call instanceof IncomingCall
          ? call.progress(app, body.code)
          : app.respond(400, 'progress is for a call offered to you');
      case 'reject':
        return call.reject(app, body.code);
      default:
        // Only a raw bus message can get here: conversations send canonical bodies.
        return app.respond(400, `no call body of kind ${JSON.stringify((body as { kind: unknown }).kind)}`);
    }
  }

  /** §13.3.1: an INVITE outside a dialog. */
  receive(transaction: InviteServerTransaction, request: SipRequest): void {
    const peer = addressOf(request.from.uri);
    if (!peer || this.#bySipCallId.has(request.callId)) {
      // §8.2.2.2: an INVITE with a Call-ID already in use here is a merged request (482).
      return transaction.respond(createResponse(request, peer ? 482 : 403));
    }
    const callId =
      CALL_ID.test(request.callId) && !this.#byCallId.has(key(peer, request.callId))
        ? request.callId
        : newCallId();
    const call = new IncomingCall(this.host, peer, callId, transaction, request, (c) => this.#forget(c));
    this.#add(call);
    call.start();
  }

  /** A request within a call's dialog. */
  receiveInDialog(transaction: ServerTransaction, request: SipRequest, dialog: Dialog): void {
    const call = this.#bySipCallId.get(dialog.callId);
    if (call) return call.receive(transaction, request);
    transaction.respond(createResponse(request, 481));
  }

  /** §9.2: the INVITE `transaction` was cancelled; returns the To tag of its responses, when it makes one. */
  cancelled(transaction: InviteServerTransaction): string | undefined {
    const call = this.#bySipCallId.get(transaction.request.callId);
    if (call instanceof IncomingCall && transaction.request === call.invite) return call.cancelled();
    call?.cancelledOffer(transaction);
    return undefined;
  }

  /** Ends every call with `peer` (their conversation is gone), or every call. */
  hangUpWith(peer?: string): void {
    for (const call of [...this.#byCallId.values()])
      if (peer === undefined || call.peer === peer) call.hangUp();
  }

  #add(call: Call): void {
    this.#byCallId.set(key(call.peer, call.callId), call);
    this.#bySipCallId.set(call.sipCallId, call);
  }

  #forget(call: Call): void {
    this.#byCallId.delete(key(call.peer, call.callId));
    this.#bySipCallId.delete(call.sipCallId);
  }
}

function key(peer: string, callId: string): string {
  return `${peer}\n${callId}`;
}
