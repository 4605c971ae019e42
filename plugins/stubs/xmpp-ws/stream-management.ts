import type { Message, SharedSession } from 'protofly/stub';
import type { Member } from './member.js';
import * as x from './stanzas.js';
import type { Xml } from './xml.js';

/** A chat written: its request, and the member (conversation) it came from. */
export interface SentChat {
  readonly member: Member;
  readonly msg: Message;
}

/** A stanza written since stream management was enabled and not yet acknowledged by the server; a chat names its request. */
export interface Unacked {
  readonly tree: Xml;
  readonly chat?: SentChat;
}

/**
 * One XEP-0198 session: it outlives its socket while the server keeps it resumable (`id`).
 * The counts wrap at 2^32 (§4).
 */
interface Management {
  /** The resumption id, when the server allows resumption. */
  id: string | undefined;
  /** Counting the server's stanzas: from its `<enabled/>` on. */
  counting: boolean;
  /** The server's stanzas handled. */
  inbound: number;
  /** Ours the server acknowledged. */
  acked: number;
  /** Ours written after those, in order. */
  readonly unacked: Unacked[];
  /** An `<r/>` is outstanding on this socket: one at a time, answered before the next. */
  requested: boolean;
}

/** What stream management needs of the stream. */
export interface ManagementHost {
  /** Writes an element (a chat names its request), which {@link StreamManagement.sent} hears of. */
  write(tree: Xml, chat?: SentChat): void;
  /** The server acknowledged these chats (maybe none): it has them, and their receipts are to come. */
  acknowledged(chats: readonly SentChat[]): void;
}

/**
 * XEP-0198 stream management, once the server offers it: every stanza written stays queued
 * until the server acknowledges it, and a lost socket's session is resumed (§5) with what the
 * server had not acknowledged sent again; one that cannot be resumed leaves that to the next
 * stream. The steps of enabling and resuming are the negotiation's (negotiation.ts).
 */
export class StreamManagement {
  readonly #session: SharedSession<Member>;
  readonly #host: ManagementHost;
  /** The server offers XEP-0198 on this socket. */
  #offered = false;
  /** XEP-0198, once the server enabled it; kept across a lost socket to resume. */
  #sm: Management | undefined;
  /** What a stream management session that could not be resumed had not had acknowledged: it goes on the new stream. */
  readonly #leftover: Unacked[] = [];

  constructor(session: SharedSession<Member>, host: ManagementHost) {
    this.#session = session;
    this.#host = host;
  }

  /**
   * The stream features after authentication, which say whether the server offers XEP-0198: the
   * `<resume/>` to write instead of binding when it may have kept our session (§5); else none,
   * and an earlier session is abandoned.
   */
  restart(offered: boolean): Xml | undefined {
    this.#offered = offered;
    const previous = this.#sm;
    if (offered && previous?.id !== undefined) return x.resume(previous.id, previous.inbound);
    if (previous) this.#abandon(previous);
    return undefined;
  }

  /**
   * Bound: the `<enable/>` to write when the server offers XEP-0198 (§3). Counted from `<enable/>`
   * on, ours (the server counts from there); the server's from `<enabled/>`.
   */
  enable(): Xml | undefined {
    if (!this.#offered) return undefined;
    this.#sm = { id: undefined, counting: false, inbound: 0, acked: 0, unacked: [], requested: false };
    return x.enable();
  }

  /** XEP-0198 enabled (§3): the server's stanzas count from here. False when no session asked for it. */
  enabled(id: string | undefined): boolean {
    const sm = this.#sm;
    if (!sm) return false;
    sm.id = id;
    sm.counting = true;
    return true;
  }

  /** The server refused to enable it: the stream goes on without. */
  disable(): void {
    this.#sm = undefined;
  }

  /** Resumed (§5): the server says how much of ours it handled (`h`). False when there was no session to resume. */
  resumed(h: number): boolean {
    if (!this.#sm) return false;
    this.acked(h, false);
    return true;
  }

  /** The server could not resume the session: abandoned, after what it handled (`h`, if it says). False when there was none. */
  notResumed(h: number | undefined): boolean {
    const sm = this.#sm;
    if (!sm) return false;
    // Prosody says how much of the old session it handled (XEP-0198 §5): none of that goes again.
    if (h !== undefined) this.acked(h, false);
    this.#abandon(sm);
    return true;
  }

  /** A stream management session that cannot be resumed: what the server had not acknowledged goes on the next stream. */
  #abandon(sm: Management): void {
    this.#sm = undefined;
    this.#leftover.push(...sm.unacked);
  }

  /**
   * The server handled our stanzas up to `h`: those are off the queue; a chat among them is held
   * by it. With `ask` (the stream is ready), an `<r/>` asks for the rest.
   */
  acked(h: number, ask: boolean): void {
    const sm = this.#sm;
    if (!sm) return;
    let n = (h - sm.acked) >>> 0;
    if (n > sm.unacked.length) {
      this.#session.owner.log.warn('xmpp-ws: the server acknowledged more than was sent', {
        h,
        sent: sm.acked + sm.unacked.length,
      });
      n = sm.unacked.length;
    }
    this.#host.acknowledged(sm.unacked.splice(0, n).flatMap(({ chat }) => (chat ? [chat] : [])));
    sm.acked = (sm.acked + n) >>> 0;
    sm.requested = false;
    if (sm.unacked.length > 0 && ask) this.#requestAck(sm);
  }

  #requestAck(sm: Management): void {
    sm.requested = true;
    this.#host.write(x.ackRequest());
  }

  /** Answers the server's `<r/>`, or acknowledges before closing (§4): how many of its stanzas we handled. */
  ack(): void {
    if (this.#sm?.counting) this.#host.write(x.ack(this.#sm.inbound));
  }

  /** An element from the server. XEP-0198 §4: every stanza the server sends counts, whatever the stub does with it. */
  received(name: string, ns: string): void {
    const sm = this.#sm;
    if (sm?.counting && x.isStanza(name, ns)) sm.inbound = (sm.inbound + 1) >>> 0;
  }

  /** An element written: a stanza stays queued until the server acknowledges it, with an `<r/>` asking for that. */
  sent(tree: Xml, chat: SentChat | undefined): void {
    const sm = this.#sm;
    if (!sm || !x.isStanza(tree[0], tree[1].xmlns)) return;
    sm.unacked.push(chat ? { tree, chat } : { tree });
    if (!sm.requested) this.#requestAck(sm);
  }

  /**
   * Bound or resumed: what goes first on the new stream, in order: what the server had not
   * acknowledged of the resumed session, else of one that could not be resumed.
   */
  again(resumed: boolean): Unacked[] {
    const sm = this.#sm;
    const again = resumed && sm ? sm.unacked.splice(0) : this.#leftover.splice(0);
    // No `<r/>` is outstanding on a new socket.
    if (sm) sm.requested = false;
    return again;
  }

  /** Writes `again` (from {@link again}); returns the chats that went. */
  resend(again: readonly Unacked[]): Set<Message> {
    const sent = new Set<Message>();
    for (const u of again) {
      // A chat answered meanwhile is not sent again; nor the old stream's iqs (pings, pongs), which meant that stream only.
      if (u.chat ? !u.chat.member.isPending(u.chat.msg.id) : u.tree[0] === 'iq') continue;
      if (u.chat) sent.add(u.chat.msg);
      this.#host.write(u.tree, u.chat);
    }
    return sent;
  }
}
