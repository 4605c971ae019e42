import { answer, type Message, offer, response, SessionMember } from 'protofly/stub';
import { jidOf } from './jid.js';

/**
 * One instance, as a member of its session's stream: a conversation with `ctx.peer`, or the
 * inbox (no peer). It keeps what the app sent that waits: its chats until their receipt or
 * error, its latest presence until the stream is ready.
 */
export class Member extends SessionMember {
  /** This conversation's chats not answered yet, by id: they go (again) whenever the stream is ready. */
  readonly #pending = new Map<string, Message>();
  /** The app's latest presence toward the peer, not yet sent (the stream was down). */
  #presence: Message | undefined;
  /**
   * Pending chats the server acknowledged (XEP-0198), by id, with when their receipt is due: it
   * has them, so a new stream does not send them again (the far side would get a copy); their
   * receipts come as the server delivers them, else the stub answers them (`receiptTimeoutMs`).
   * In the order the server acknowledged them, so the first is due first.
   */
  readonly #held = new Map<string, number>();

  /** The chats not answered yet, in the order the app sent them. */
  chats(): IterableIterator<Message> {
    return this.#pending.values();
  }

  /** How many chats wait for their receipts. */
  get waiting(): number {
    return this.#pending.size;
  }

  isPending(id: string): boolean {
    return this.#pending.has(id);
  }

  /** Whether the server holds chat `id` (XEP-0198): it does not go again. */
  isHeld(id: string): boolean {
    return this.#held.has(id);
  }

  /** A chat for the far side: it waits for its receipt or error. */
  add(msg: Message): void {
    this.#pending.set(msg.id, msg);
  }

  /** The server acknowledged chat `id` (XEP-0198): held until `due`, unless answered or held already. */
  hold(id: string, due: number): void {
    if (this.#pending.has(id) && !this.#held.has(id)) this.#held.set(id, due);
  }

  /** When the first held chat's receipt is due, if one is held. */
  firstDue(): number | undefined {
    const next = this.#held.values().next();
    return next.done ? undefined : next.value;
  }

  /** Every held chat whose receipt is due by `now` is answered 504, with `detail`. */
  expire(now: number, detail: string): void {
    for (const [id, due] of this.#held) {
      if (due > now) break;
      this.#held.delete(id);
      const req = this.#pending.get(id);
      if (!req) continue;
      this.#pending.delete(id);
      answer(this.ctx, req, 504, detail);
    }
  }

  /** A receipt (200) or an error from bare JID `from` for chat `id`: handed to the runtime, if this conversation sent it there. */
  settle(from: string, id: string, code: number): boolean {
    const req = this.#pending.get(id);
    if (!req || jidOf(req.to) !== from) return false;
    this.#pending.delete(id);
    this.#held.delete(id);
    if (offer(this.ctx, response(req, code)) !== 'taken')
      this.ctx.log.warn('xmpp-ws: the runtime did not take an answer', { id });
    return true;
  }

  /** The stream failed for good: every chat waiting is answered 503, with `detail`. */
  failed(detail: string): void {
    for (const msg of this.#pending.values()) answer(this.ctx, msg, 503, detail);
    this.#pending.clear();
  }

  /** The app's newer presence waits; one still waiting is answered: it was superseded, not lost. */
  setPresence(msg: Message): void {
    const waiting = this.#presence;
    if (waiting) answer(this.ctx, waiting, 200);
    this.#presence = msg;
  }

  /** The presence waiting, if any, taken to be sent. */
  takePresence(): Message | undefined {
    const msg = this.#presence;
    this.#presence = undefined;
    return msg;
  }
}
