import {
  type ConversationBody,
  isProvisional,
  type Message,
  offer,
  response,
  Seen,
  type SharedSession,
} from 'protofly/stub';
import { isMessageId, type Presence } from './canonical.js';
import { addressOf, bare, full, type Jid } from './jid.js';
import type { Member } from './member.js';
import * as x from './stanzas.js';
import type { Xml } from './xml.js';

/** A chat handed to the runtime: where its receipt goes, and its XMPP id. */
interface Inbound {
  /** The sender's full JID, as of its latest copy: the answer goes where the sender is now. */
  to: string;
  readonly id: string;
  readonly wantsReceipt: boolean;
}

/** What the far side's side needs of the stream. */
export interface IncomingHost {
  /** Whether the stream is ready: what is written now goes. */
  ready(): boolean;
  write(tree: Xml): void;
  /** A new id with `prefix`. */
  id(prefix: string): string;
  /** The bare JID the stream logged in as: its own resources' presence is not passed on. */
  account(): string;
}

/**
 * What the far side sends, handed to the runtime (to the conversation with the sender, else to
 * the inbox): chats, presence, and call bodies (calls.ts); and the runtime's answers back. A
 * chat's answer is a receipt (XEP-0184) or a message error, given again to a copy of the chat.
 */
export class Incoming {
  readonly #session: SharedSession<Member>;
  readonly #host: IncomingHost;
  /** Chats handed to the runtime, by `<sender address> <id>`: a copy is dropped. */
  readonly #delivered: Seen<Inbound>;
  /** The receipts (or errors) given, by the same key: a chat sent again is answered again. */
  readonly #answers: Seen<Xml>;
  /** Receipts and errors given while the stream was down: they go once it is ready. */
  readonly #unsent: Xml[] = [];
  /** Call bodies handed to the runtime whose answer something waits for, by id. */
  readonly #awaiting = new Map<string, (code: number) => void>();

  constructor(session: SharedSession<Member>, dedupWindow: number, host: IncomingHost) {
    this.#session = session;
    this.#host = host;
    this.#delivered = new Seen(dedupWindow);
    this.#answers = new Seen(dedupWindow);
  }

  /** The conversation with `from`, else the inbox. */
  #memberFor(from: string): Member | undefined {
    const members = this.#session.members;
    return members.find((m) => m.ctx.peer === from) ?? members.find((m) => !m.ctx.peer);
  }

  /** A chat from someone: to the conversation with them, else to the inbox. */
  chat(chat: x.Chat): void {
    const from = addressOf(chat.from)!;
    const to = this.#session.owner.identity.address;
    const id = chat.id ?? this.#host.id('xmpp-');
    const key = `${from} ${id}`;
    const again = this.#answers.get(key);
    if (again) return this.#host.write(again);
    const inbound: Inbound = {
      to: full(chat.from),
      id,
      wantsReceipt: chat.wantsReceipt && chat.id !== undefined,
    };
    // Handed over already, and not answered yet: its answer will come, to the resource the copy
    // came from (a sender whose old stream hibernates in the server, XEP-0198, would not get it).
    const prior = this.#delivered.get(key);
    if (prior) {
      prior.to = inbound.to;
      return;
    }
    this.#delivered.add(key, inbound);
    const member = this.#memberFor(from);
    // A canonical id is printable ASCII; an XMPP id may be anything, so a strange one is not passed on.
    const msg: Message = {
      id: isMessageId(id) ? id : this.#host.id('xmpp-'),
      type: 'create',
      from,
      to,
      body: { value: { kind: 'chat', text: chat.text } },
    };
    if (msg.id !== id) this.#delivered.add(`${from} ${msg.id}`, inbound);
    const outcome = member ? offer(member.ctx, msg) : 'refused';
    if (outcome === 'taken') return;
    // Nobody here takes it (404), or the runtime cannot now (503): the sender is told.
    this.answer(response(msg, outcome === 'busy' ? 503 : 404) as Message & { type: 'response' });
  }

  /** Someone's presence: an `update` to the conversation with them, else the inbox; one's own resources' is not. */
  presence(jid: Jid, status: x.PresenceStatus, note: string | undefined): void {
    if (bare(jid) === this.#host.account()) return;
    const from = addressOf(jid)!;
    const to = this.#session.owner.identity.address;
    const member = this.#memberFor(from);
    const value: Presence =
      note === undefined ? { kind: 'presence', status } : { kind: 'presence', status, note };
    const msg: Message = { id: this.#host.id('presence-'), type: 'update', from, to, body: { value } };
    // A state, not a request anyone waits on: one the runtime cannot take now is superseded by the next.
    if (!member || offer(member.ctx, msg) !== 'taken')
      this.#session.owner.log.debug('xmpp-ws: a presence not taken', { from });
  }

  /** A call body from `peer` for the runtime, as `create` (an offer) or `update`; `answered` hears its code. */
  call(peer: string, body: ConversationBody, answered?: (code: number) => void): void {
    const msg: Message = {
      id: this.#host.id('call-'),
      type: body.kind === 'offer' ? 'create' : 'update',
      from: peer,
      to: this.#session.owner.identity.address,
      body: { value: body },
    };
    const member = this.#memberFor(peer);
    const outcome = member ? offer(member.ctx, msg) : 'refused';
    if (outcome === 'taken' && answered) this.#awaiting.set(msg.id, answered);
    else if (outcome !== 'taken') answered?.(outcome === 'busy' ? 503 : 404);
  }

  /** The runtime's answer to a chat it was handed: a receipt (200) or an error, to the sender. */
  answer(res: Message & { type: 'response' }): void {
    if (isProvisional(res.body.code)) return;
    const done = this.#awaiting.get(res.id);
    if (done) {
      this.#awaiting.delete(res.id);
      return done(res.body.code);
    }
    const key = `${res.to} ${res.id}`;
    const inbound = this.#delivered.get(key);
    if (!inbound || this.#answers.has(key)) return;
    const reply =
      res.body.code === 200
        ? inbound.wantsReceipt
          ? x.receipt(this.#host.id('r'), inbound.to, inbound.id)
          : undefined
        : x.stanzaError('message', inbound.id, inbound.to, x.conditionOfCode(res.body.code));
    if (!reply) return;
    this.#answers.add(key, reply);
    if (this.#host.ready()) this.#host.write(reply);
    else this.#unsent.push(reply);
  }

  /** The stream is ready: the answers given while it was down go. */
  flush(): void {
    for (const reply of this.#unsent.splice(0)) this.#host.write(reply);
  }
}
