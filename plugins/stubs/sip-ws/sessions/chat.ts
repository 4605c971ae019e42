import type { ChatBody } from '../../../../core/generated/types.js';
import {
  CALL_ID,
  CONTENT_TYPE,
  CSEQ,
  FROM,
  Headers,
  MAX_FORWARDS,
  SipRequest,
  TO,
} from '../message/index.js';
import type { ServerTransaction } from '../transactions/transaction-layer.js';
import { newCallId, newTag } from '../user-agent-core/identifiers.js';
import { createResponse, withTag } from '../user-agent-core/responses.js';
import { addressOf, sipUriOf } from './addresses.js';
import { answerWith, sipStatusOf } from './codes.js';
import type { AppRequest, SessionHost } from './session-host.js';

/** The schema's bound on a chat's text (schemas/conversation.schema.json). */
const MAX_TEXT = 65_536;

/**
 * Chat over SIP MESSAGE (RFC 3428), outside any dialog: a canonical chat body is one
 * MESSAGE, its text the body and its mime the Content-Type (text/plain when absent); the
 * MESSAGE's final response answers the app's request. A MESSAGE received is delivered as a
 * chat, and answered with the runtime's answer (§7: 200 once the user took it).
 */
export class Chat {
  constructor(private readonly host: SessionHost) {}

  /** RFC 3428 §4: the app's chat to `app.peer`. */
  send(app: AppRequest, body: ChatBody): void {
    const to = { displayName: undefined, uri: sipUriOf(app.peer), params: new Map() };
    const h = new Headers();
    h.put(MAX_FORWARDS, [70]);
    h.put(TO, [to]);
    h.put(FROM, [withTag(this.host.local, newTag())]);
    h.put(CALL_ID, [newCallId()]);
    h.put(CSEQ, [{ seq: 1, method: 'MESSAGE' }]);
    const [type, subtype] = (body.mime ?? 'text/plain').split('/') as [string, string];
    h.put(CONTENT_TYPE, [{ type, subtype, params: new Map([['charset', 'UTF-8']]) }]);
    this.host.core.send(new SipRequest('MESSAGE', to.uri, h, body.text), (res, unanswered) => {
      if (res.status < 200) return;
      // RFC 3261 §17.1.2.2: Timer F fired (or the connection went) with the MESSAGE sent; a 408
      // received is the far side's answer, this one only says none came: it may have arrived.
      if (unanswered) return app.unknown(res.status, res.reason);
      answerWith(app, res);
    });
  }

  /** RFC 3428 §7: a MESSAGE for this user, in a dialog or not. */
  receive(transaction: ServerTransaction, request: SipRequest): void {
    const answer = (status: number, reason?: string) =>
      transaction.respond(createResponse(request, status, { reason }));
    const from = addressOf(request.from.uri);
    if (!from) return answer(403, 'Sender is not a user address');
    const type = request.contentType;
    const mime = type ? `${type.type}/${type.subtype}` : 'text/plain';
    if (
      typeof request.body !== 'string' ||
      !(type === undefined || type.type === 'text' || mime === 'message/cpim')
    ) {
      return answer(415);
    }
    if (request.body.length > MAX_TEXT) return answer(413);
    const chat: ChatBody =
      mime === 'text/plain'
        ? { kind: 'chat', text: request.body }
        : { kind: 'chat', text: request.body, mime };
    // The runtime's description stays out of the reason phrase: it is free text, a Reason-Phrase is not.
    const taken = this.host.deliver(from, chat, (code) => answer(sipStatusOf(code)));
    if (!taken) answer(480, 'No conversation with the sender');
  }
}
