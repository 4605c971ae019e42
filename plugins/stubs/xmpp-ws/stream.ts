import {
  Backoff,
  type Message,
  runtimeRefusal,
  SharedSession,
  type StubContext,
  type StubSocket,
} from 'protofly/stub';
import { Calls } from './calls.js';
import type { Config } from './config.js';
import { Incoming } from './incoming.js';
import { addressOf, bare, readJid } from './jid.js';
import { Member } from './member.js';
import { Negotiation } from './negotiation.js';
import { Outgoing } from './outgoing.js';
import { restore } from './snapshot.js';
import * as x from './stanzas.js';
import { type SentChat, StreamManagement } from './stream-management.js';
import { parseXml, writeXml, type Xml } from './xml.js';

/**
 * The one XMPP stream the instances of a session (this stub version, this user) share: its
 * socket, opened again after a loss (with backoff), each frame read routed to the part it is
 * for, each element written counted by stream management, pings while ready, and failing for
 * good. The parts: negotiation.ts logs in, stream-management.ts is XEP-0198, outgoing.ts is
 * what the app sends, incoming.ts what the far side sends, calls.ts the calls.
 */
export class Stream {
  readonly #session: SharedSession<Member>;
  readonly #config: Config;
  readonly #backoff: Backoff;
  readonly #management: StreamManagement;
  readonly #negotiation: Negotiation;
  readonly #incoming: Incoming;
  readonly #calls: Calls;
  readonly #outgoing: Outgoing;
  #socket: StubSocket | undefined;
  /** Our `iq` sets waiting for their answer, by id. */
  readonly #iqs = new Map<string, (ok: boolean) => void>();
  #connectTimer: number | undefined;
  #pingTimer: number | undefined;
  #next = 0;

  constructor(ctx: StubContext) {
    this.#session = new SharedSession(ctx, 'xmpp-ws/stream');
    this.#config = ctx.config as Config;
    const { reconnectDelayMs, reconnectDelayMaxMs, randomizationFactor, dedupWindow } = this.#config;
    this.#backoff = new Backoff(
      reconnectDelayMs,
      reconnectDelayMaxMs,
      randomizationFactor,
      ctx.identity.address,
    );
    this.#management = new StreamManagement(this.#session, {
      write: (tree, chat) => this.#write(tree, chat),
      acknowledged: (chats) => this.#outgoing.acknowledged(chats),
    });
    this.#negotiation = new Negotiation(ctx, this.#session, this.#management, {
      open: () => this.#open(),
      write: (tree) => this.#write(tree),
      sameSocket: () => this.#sameSocket(),
      giveUp: (why) => this.#giveUp(why),
      lost: (why) => this.#lost(why),
      fail: (detail, code) => this.#fail(detail, code),
      ready: (resumed) => this.#ready(resumed),
    });
    const ready = () => this.#negotiation.ready;
    this.#incoming = new Incoming(this.#session, dedupWindow, {
      ready,
      write: (tree) => this.#write(tree),
      id: (prefix) => this.#id(prefix),
      account: () => this.#negotiation.account,
    });
    this.#calls = new Calls({
      write: (tree) => this.#write(tree),
      iq: (to, payload, done) => {
        const id = this.#id('iq');
        if (done) this.#iqs.set(id, done);
        this.#write(['iq', { xmlns: x.NS.client, type: 'set', id, to }, payload]);
      },
      tell: (peer, body, answered) => this.#incoming.call(peer, body, answered),
      me: () => this.#negotiation.jid,
    });
    this.#outgoing = new Outgoing(this.#session, this.#config, this.#calls, {
      ready,
      write: (tree, chat) => this.#write(tree, chat),
    });
    this.#negotiation.start();
  }

  join(ctx: StubContext): Member {
    const member = new Member(ctx);
    this.#session.join(member);
    for (const msg of restore(ctx.snapshot)) this.post(member, msg);
    return member;
  }

  /** What the runtime hands the stub: chats for the far side, and its answers to theirs. */
  post(member: Member, msg: Message): void {
    if (msg.type === 'response') return this.#incoming.answer(msg);
    this.#outgoing.post(member, msg);
  }

  /** An instance stops; the last one closes the stream. */
  leave(member: Member): void {
    if (!this.#session.leave(member) || this.#session.members.length > 0) return;
    this.#session.close();
    const socket = this.#socket;
    if (socket && this.#negotiation.ready) {
      // XEP-0198 §4: "It is RECOMMENDED that initiating entities (usually clients) send an <a/>
      // element right before they gracefully close the stream ... Otherwise it can happen that
      // stanzas are re-sent (usually by the server) although they were actually received."
      // Prosody puts what we did not acknowledge in offline storage, and the chat comes again.
      this.#management.ack();
      this.#write(x.close());
    }
    this.#socket = undefined;
    socket?.close(1000, 'done');
  }

  #id(prefix: string): string {
    return `${prefix}${++this.#next}`;
  }

  /** Opens the socket, on the clock of the session's oldest member, and bounds the log-in. */
  #open(): void {
    const ctx = this.#session.owner;
    let socket: StubSocket;
    // What the host said before closing: a socket it refused, why.
    let error: string | undefined;
    try {
      socket = ctx.connect(this.#config.url, ['xmpp'], {
        onOpen: () => socket === this.#socket && this.#negotiation.opened(),
        // A socket given up (closed by the stub) is heard no more.
        onMessage: (data) => socket === this.#socket && this.#receive(data),
        onClose: (code, reason) => {
          if (socket !== this.#socket) return;
          // The runtime refused the socket (its policy, a certificate it does not trust): it would again.
          const refused = runtimeRefusal(code, reason);
          if (refused) return this.#fail(error ?? `${refused}: ${this.#config.url} refused`, refused);
          this.#lost(reason || `closed (${code})`);
        },
        // The close that follows says what happens next.
        onError: (message) => {
          error = message;
        },
      });
    } catch (err) {
      // Its url is outside the endpoints the runtime allows: no retry will do better.
      return this.#fail(`cannot connect: ${(err as Error).message}`);
    }
    this.#socket = socket;
    this.#connectTimer = this.#session.setTimeout(
      () => this.#giveUp(`not ready within ${this.#config.connectTimeoutMs} ms`),
      this.#config.connectTimeoutMs,
    );
  }

  /** A check, for later, that the socket of now is still the stream's. */
  #sameSocket(): () => boolean {
    const socket = this.#socket;
    return () => socket === this.#socket;
  }

  /** A frame from the server. Whatever it holds, nothing here throws: a bad frame is logged. */
  #receive(data: string): void {
    const log = this.#session.owner.log;
    if (data.length > this.#config.maxFrameBytes)
      return log.warn('xmpp-ws: a frame too large, dropped', { length: data.length });
    let frame: x.Frame | undefined;
    try {
      const el = parseXml(data);
      this.#management.received(el.name, el.ns);
      frame = x.readFrame(el);
    } catch (err) {
      return log.warn('xmpp-ws: a frame that is not XMPP XML', { error: (err as Error).message });
    }
    if (!frame) return log.debug('xmpp-ws: a frame not understood', { frame: data.slice(0, 80) });
    switch (frame.verb) {
      case 'features':
        return this.#negotiation.features(frame.mechanisms, frame.bind, frame.sm);
      case 'sm-enabled':
        return this.#negotiation.enabled(frame.id);
      case 'sm-resumed':
        return this.#negotiation.resumed(frame.h);
      case 'sm-failed':
        return this.#negotiation.managementFailed(frame.h, frame.condition);
      case 'sm-ack':
        return this.#management.acked(frame.h, this.#negotiation.ready);
      case 'sm-request':
        return this.#management.ack();
      case 'challenge':
        return this.#negotiation.challenge(frame.data);
      case 'success':
        return this.#negotiation.success(frame.data);
      case 'failure':
        return this.#negotiation.failure(frame.condition);
      case 'iq-result':
      case 'iq-error':
        return this.#iqAnswered(frame.verb, frame.id, frame.jid);
      case 'iq-request': {
        // Every iq get/set is answered (RFC 6120 §8.2.3): a ping or a Jingle action we take with
        // a result, a Jingle action for no session of ours with item-not-found, the rest with an error.
        const from = readJid(frame.from);
        const peer = from && addressOf(from);
        if (frame.jingle && from && peer) {
          const ok = this.#calls.jingle(from, peer, frame.jingle);
          return this.#write(
            ok ? x.pong(frame.id, frame.from) : x.stanzaError('iq', frame.id, frame.from, 'item-not-found'),
          );
        }
        return this.#write(
          frame.ping
            ? x.pong(frame.id, frame.from)
            : x.stanzaError('iq', frame.id, frame.from, 'service-unavailable'),
        );
      }
      case 'jmi':
        return this.#calls.jmi(frame.from, addressOf(frame.from)!, frame.action, frame.sid);
      case 'chat':
        return this.#incoming.chat(frame);
      case 'receipt':
        return this.#outgoing.answered(bare(frame.from), frame.id, 200);
      case 'message-error':
        return this.#outgoing.answered(bare(frame.from), frame.id, frame.code);
      case 'presence':
        return this.#incoming.presence(frame.from, frame.status, frame.note);
      case 'stream-error':
        // The server closes next; a reconnect follows unless it was a verdict on us.
        return log.warn('xmpp-ws: stream error', { condition: frame.condition });
      case 'close':
        return this.#giveUp('the server closed the stream');
      default:
        return;
    }
  }

  #iqAnswered(verb: 'iq-result' | 'iq-error', id: string, jid: string | undefined): void {
    const done = this.#iqs.get(id);
    if (done) {
      this.#iqs.delete(id);
      return done(verb === 'iq-result');
    }
    if (id === 'bind') return this.#negotiation.bound(verb === 'iq-result', jid);
    if (this.#pingTimer !== undefined && id.startsWith('ping')) {
      this.#session.clearTimeout(this.#pingTimer);
      this.#pingTimer = undefined;
      this.#schedulePing();
    }
  }

  /**
   * Bound (with presence) or resumed: the members are live, and what waited goes. First what
   * the server has not acknowledged of an earlier stream management session (a resumed one, or
   * one that could not be), in order; then pending chats the server never had: every one, on a
   * stream without XEP-0198 (the far side drops a copy by id).
   */
  #ready(resumed: boolean): void {
    if (this.#connectTimer !== undefined) this.#session.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#backoff.reset();
    const again = this.#management.again(resumed);
    if (!resumed) this.#write(x.presence());
    this.#session.broadcast('live');
    this.#outgoing.flush(this.#management.resend(again));
    this.#incoming.flush();
    this.#schedulePing();
  }

  /** XEP-0199: a ping every `pingIntervalMs` while ready; one unanswered in `pingTimeoutMs` gives the socket up. */
  #schedulePing(): void {
    const { pingIntervalMs, pingTimeoutMs } = this.#config;
    if (pingIntervalMs === 0) return;
    const same = this.#sameSocket();
    this.#pingTimer = this.#session.setTimeout(() => {
      if (!same() || !this.#negotiation.ready) return;
      this.#write(x.ping(this.#id('ping'), this.#negotiation.domain));
      this.#pingTimer = this.#session.setTimeout(
        () => same() && this.#giveUp(`no pong within ${pingTimeoutMs} ms`),
        pingTimeoutMs,
      );
    }, pingIntervalMs);
  }

  /** The socket is of no more use: closed, and the stream comes back later. */
  #giveUp(why: string): void {
    const socket = this.#socket;
    this.#lost(why);
    socket?.close(1000, why.slice(0, 100));
  }

  /** The socket closed: every instance is disconnected, and the stream connects again later. */
  #lost(why: string): void {
    if (this.#session.failure) return;
    this.#socket = undefined;
    this.#negotiation.lost();
    for (const t of [this.#connectTimer, this.#pingTimer]) if (t !== undefined) this.#session.clearTimeout(t);
    this.#connectTimer = this.#pingTimer = undefined;
    this.#session.broadcast('disconnected', why);
    this.#session.setTimeout(() => this.#negotiation.connect(), this.#backoff.next());
  }

  /** Fails for good: what the members still wait for is answered first, and the socket closes. */
  #fail(detail: string, code?: string): void {
    const socket = this.#socket;
    this.#socket = undefined;
    for (const t of [this.#connectTimer, this.#pingTimer]) if (t !== undefined) this.#session.clearTimeout(t);
    this.#session.fail(detail, code, () => {
      for (const m of this.#session.members) m.failed(detail);
    });
    socket?.close(1000, 'failed');
  }

  /**
   * Writes an element. One a closing socket refuses is not lost: chats wait in their member,
   * answers in incoming.ts, and under XEP-0198 every stanza stays queued until the server
   * acknowledges it, with an `<r/>` asking for that.
   */
  #write(tree: Xml, chat?: SentChat): void {
    try {
      this.#socket?.send(writeXml(tree));
    } catch (err) {
      this.#session.owner.log.debug('xmpp-ws: not sent, the socket is closing', { error: String(err) });
    }
    this.#management.sent(tree, chat);
  }
}
