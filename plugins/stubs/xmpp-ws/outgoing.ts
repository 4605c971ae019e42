import { answer, type ConversationBody, type Message, type SharedSession, withdrawnId } from 'protofly/stub';
import type { Calls } from './calls.js';
import { callOf, type Presence, presenceOf, textOf } from './canonical.js';
import type { Config } from './config.js';
import { jidOf } from './jid.js';
import type { Member } from './member.js';
import * as x from './stanzas.js';
import type { SentChat } from './stream-management.js';
import { isXmlText, writeXml, type Xml } from './xml.js';

/** What the app's side needs of the stream. */
export interface OutgoingHost {
  /** Whether the stream is ready: what is written now goes. */
  ready(): boolean;
  /** Writes an element; a chat names its request. */
  write(tree: Xml, chat?: SentChat): void;
}

/**
 * What the app sends the far side. A chat is a `<message type="chat">` asking for a receipt
 * (XEP-0184): the receipt is the 200 the app awaits, a message error its error; it waits in its
 * member until then, and goes again after a reconnect. Presence is directed presence; a call
 * body goes to calls.ts. A chat the server holds (XEP-0198) whose receipt does not come in time
 * is answered 504.
 */
export class Outgoing {
  readonly #session: SharedSession<Member>;
  readonly #config: Config;
  readonly #calls: Calls;
  readonly #host: OutgoingHost;
  /** Runs when the first held chat's receipt is due. */
  #receiptTimer: number | undefined;

  constructor(session: SharedSession<Member>, config: Config, calls: Calls, host: OutgoingHost) {
    this.#session = session;
    this.#config = config;
    this.#calls = calls;
    this.#host = host;
  }

  /** A request of the app's: a chat, presence, a call body, or a chat withdrawn. */
  post(member: Member, msg: Message): void {
    const withdrawn = withdrawnId(msg);
    if (withdrawn !== undefined) {
      // A chat may have gone before a reconnect: never taken back (200), its receipt will say.
      return answer(member.ctx, msg, member.isPending(withdrawn) ? 409 : 404);
    }
    const presence = presenceOf(msg);
    if (presence) return this.#presence(member, msg, presence);
    const call = callOf(msg);
    if (call) return this.#call(member, msg, call);
    const text = textOf(msg);
    if (text === undefined) return answer(member.ctx, msg, 501, 'xmpp-ws carries chats and presence only');
    const to = jidOf(msg.to);
    if (!to) return answer(member.ctx, msg, 400, `${msg.to} has no XMPP address`);
    if (!isXmlText(text)) return answer(member.ctx, msg, 400, 'the text holds characters XML cannot carry');
    if (writeXml(x.chat(msg.id, to, text)).length > this.#config.maxFrameBytes)
      return answer(
        member.ctx,
        msg,
        413,
        `a chat is at most ${this.#config.maxFrameBytes} characters of XML`,
      );
    const failure = this.#session.failure;
    if (failure) return answer(member.ctx, msg, 503, failure.detail);
    if (member.waiting >= this.#config.maxQueued)
      return answer(member.ctx, msg, 503, `${this.#config.maxQueued} chats wait for their receipts already`);
    member.add(msg);
    if (this.#host.ready()) this.#sendChat(member, msg);
  }

  #sendChat(member: Member, msg: Message): void {
    this.#host.write(x.chat(msg.id, jidOf(msg.to)!, textOf(msg)!), { member, msg });
  }

  /** A call body: live calls only, so none waits for a stream that is down (503). */
  #call(member: Member, msg: Message, body: ConversationBody): void {
    const to = jidOf(msg.to);
    if (!to) return answer(member.ctx, msg, 400, `${msg.to} has no XMPP address`);
    const failure = this.#session.failure;
    if (failure) return answer(member.ctx, msg, 503, failure.detail);
    if (!this.#host.ready()) return answer(member.ctx, msg, 503, 'not connected to the XMPP server');
    this.#calls.post(
      { peer: msg.to, to, respond: (code, detail) => answer(member.ctx, msg, code, detail) },
      body,
    );
  }

  /**
   * The app's presence toward its peer: directed presence (RFC 6121 §4.6), answered 200 once
   * written, as XMPP acknowledges no presence. While the stream is down, the latest waits.
   */
  #presence(member: Member, msg: Message, body: Presence): void {
    const to = jidOf(msg.to);
    if (!to) return answer(member.ctx, msg, 400, `${msg.to} has no XMPP address`);
    if (body.note !== undefined && !isXmlText(body.note))
      return answer(member.ctx, msg, 400, 'the note holds characters XML cannot carry');
    const failure = this.#session.failure;
    if (failure) return answer(member.ctx, msg, 503, failure.detail);
    member.setPresence(msg);
    if (this.#host.ready()) this.#sendPresence(member);
  }

  #sendPresence(member: Member): void {
    const msg = member.takePresence();
    const body = msg && presenceOf(msg);
    if (!msg || !body) return;
    this.#host.write(x.directedPresence(jidOf(msg.to)!, body.status, body.note));
    answer(member.ctx, msg, 200);
  }

  /**
   * The stream is ready, and what the server had not acknowledged went again (`sent`): then
   * pending chats the server never had (every one, on a stream without XEP-0198: the far side
   * drops a copy by id), and presence that waited.
   */
  flush(sent: ReadonlySet<Message>): void {
    for (const m of this.#session.members) {
      for (const msg of m.chats()) if (!sent.has(msg) && !m.isHeld(msg.id)) this.#sendChat(m, msg);
      this.#sendPresence(m);
    }
  }

  /** A receipt or an error from `from` for chat `id`: to the conversation that sent it. */
  answered(from: string, id: string, code: number): void {
    for (const m of this.#session.members) if (m.settle(from, id, code)) return;
  }

  /** The server acknowledged these chats (XEP-0198): held, their receipts due within `receiptTimeoutMs`. */
  acknowledged(chats: readonly SentChat[]): void {
    const due = Date.now() + this.#config.receiptTimeoutMs;
    for (const { member, msg } of chats) member.hold(msg.id, due);
    this.#awaitReceipts();
  }

  /**
   * One timer for every held chat's receipt, at the earliest due (each member's first): a held
   * chat whose receipt is overdue is answered 504. The server has it, and nothing lost it for
   * sure: the far side may be offline or give no receipts, or the server lost the receipt (a
   * crash, or a restart while the user had other sessions, where Prosody bounces it to the
   * sender rather than storing it). Either way the app's request ends, with a coded error.
   */
  #awaitReceipts(): void {
    if (this.#receiptTimer !== undefined) return;
    let first = Number.POSITIVE_INFINITY;
    for (const m of this.#session.members) first = Math.min(first, m.firstDue() ?? first);
    if (first === Number.POSITIVE_INFINITY) return;
    this.#receiptTimer = this.#session.setTimeout(
      () => {
        this.#receiptTimer = undefined;
        const now = Date.now();
        const detail = `the XMPP server took it, and no receipt came within ${this.#config.receiptTimeoutMs} ms`;
        for (const m of this.#session.members) m.expire(now, detail);
        this.#awaitReceipts();
      },
      Math.max(0, first - Date.now()),
    );
  }
}
