import {
  type Activate,
  answer,
  Backoff,
  type ConversationBody,
  fetchGuestCredentials,
  isProtoflyError,
  isProvisional,
  type Message,
  offer,
  response,
  runtimeRefusal,
  Seen,
  SessionMember,
  SharedSession,
  type StubContext,
  type StubSocket,
  shared,
  withdrawnId,
} from 'protofly/stub';
import { Calls } from './calls.js';
import { addressOf, bare, full, type Jid, jidOf, readJid } from './jid.js';
import { SCRAM_MECHANISMS, ScramClient, toBase64 } from './scram.js';
import * as x from './stanzas.js';
import { isXmlText, parseXml, writeXml, type Xml } from './xml.js';

/**
 * A protofly stub for XMPP over WebSocket (RFC 7395), to a server such as Prosody. One socket
 * per user (the session's instances share it): `<open/>`, SASL SCRAM, `<open/>` again, resource
 * binding, initial presence; then live. A chat the app sends is a `<message type="chat">`
 * asking for a receipt (XEP-0184): the receipt is the 200 the app awaits, a message error its
 * error. A chat that comes is handed to the runtime, and the runtime's answer goes back as a
 * receipt (or an error). What is not answered waits, and goes again after a reconnect with its
 * id: the receiving stub de-duplicates by sender and id, and gives its receipt again. With
 * XEP-0198 the server's acknowledgements say what goes again (a resumed stream, or a new one),
 * so that a far side that keeps copies gets none. Calls are Jingle sessions (calls.ts).
 * A user of another domain logs in as the guest account the domain's guest service gives it
 * (`guestUrl`, core/stub-kit/guest-credentials.ts), asked again on each connection.
 */

/** Its configuration (protofly.json's schema): checked, defaults filled in, by the runtime. */
type Config = {
  readonly url: string;
  readonly guestUrl?: string;
  readonly password?: string;
  readonly resource: string;
  readonly mechanisms: readonly string[];
  readonly maxIterations: number;
  readonly reconnectDelayMs: number;
  readonly reconnectDelayMaxMs: number;
  readonly randomizationFactor: number;
  readonly connectTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pingTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly dedupWindow: number;
  readonly maxQueued: number;
  readonly receiptTimeoutMs: number;
};

/** A chat handed to the runtime: where its receipt goes, and its XMPP id. */
interface Inbound {
  /** The sender's full JID, as of its latest copy: the answer goes where the sender is now. */
  to: string;
  readonly id: string;
  readonly wantsReceipt: boolean;
}

/** Where one socket is in RFC 6120's order; `ready` once bound (or resumed), with presence sent. */
type Phase = 'opening' | 'authenticating' | 'restarting' | 'resuming' | 'binding' | 'enabling' | 'ready';

/** One instance, as a member of its session's stream: a conversation with `ctx.peer`, or the inbox (no peer). */
class Member extends SessionMember {
  /** This conversation's chats not answered yet, by id: they go (again) whenever the stream is ready. */
  readonly pending = new Map<string, Message>();
  /** The app's latest presence toward the peer, not yet sent (the stream was down). */
  presence: Message | undefined;
  /**
   * Pending chats the server acknowledged (XEP-0198), by id, with when their receipt is due: it
   * has them, so a new stream does not send them again (the far side would get a copy); their
   * receipts come as the server delivers them, else the stub answers them (`receiptTimeoutMs`).
   * In the order the server acknowledged them, so the first is due first.
   */
  readonly held = new Map<string, number>();
}

/** A stanza written since stream management was enabled and not yet acknowledged by the server; a chat names its request. */
interface Unacked {
  readonly tree: Xml;
  readonly chat?: { readonly member: Member; readonly msg: Message };
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

/** Random characters for nonces and ids (the sandbox offers `crypto.getRandomValues`). */
function random(n: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return toBase64(bytes).replace(/[+/=]/g, 'x').slice(0, n);
}

/** The one XMPP stream the instances of a session (this stub version, this user) share. */
class Stream {
  readonly #session: SharedSession<Member>;
  readonly #config: Config;
  readonly #backoff: Backoff;
  /** The XMPP server's domain: the user's own, or the one it is a guest of. */
  readonly #domain: string;
  /** The account's localpart: the user's name, or its guest account's (`alice~a.example`). */
  #user: string;
  /** A guest's password, from the guest service; a user of the domain has `config.password`. */
  #guestPassword: string | undefined;
  /** The user's own domain, when it is not the server's: it logs in as a guest. */
  readonly #guestOf: string | undefined;
  /** Asked for once per session: receipts for what went before a reconnect come back to it. */
  readonly #resource: string;
  /** Chats handed to the runtime, by `<sender address> <id>`: a copy is dropped. */
  readonly #delivered: Seen<Inbound>;
  /** The receipts (or errors) given, by the same key: a chat sent again is answered again. */
  readonly #answers: Seen<Xml>;
  /** Receipts and errors given while the stream was down: they go once it is ready. */
  readonly #unsent: Xml[] = [];
  /** XEP-0198, once the server enabled it; kept across a lost socket to resume. */
  #sm: Management | undefined;
  /** What a stream management session that could not be resumed had not had acknowledged: it goes on the new stream. */
  readonly #leftover: Unacked[] = [];
  #socket: StubSocket | undefined;
  #phase: Phase = 'opening';
  #scram: ScramClient | undefined;
  /** Our full JID, as bound. */
  #jid = '';
  /** Our `iq` sets waiting for their answer, by id. */
  readonly #iqs = new Map<string, (ok: boolean) => void>();
  /** Call bodies handed to the runtime whose answer something waits for, by id. */
  readonly #awaiting = new Map<string, (code: number) => void>();
  readonly #calls = new Calls({
    write: (tree) => this.#write(tree),
    iq: (to, payload, done) => {
      const id = this.#id('iq');
      if (done) this.#iqs.set(id, done);
      this.#write(['iq', { xmlns: x.NS.client, type: 'set', id, to }, payload]);
    },
    tell: (peer, body, answered) => {
      const msg: Message = {
        id: this.#id('call-'),
        type: body.kind === 'offer' ? 'create' : 'update',
        from: peer,
        to: this.#session.owner.identity.address,
        body: { value: body },
      };
      const members = this.#session.members;
      const member = members.find((m) => m.ctx.peer === peer) ?? members.find((m) => !m.ctx.peer);
      const outcome = member ? offer(member.ctx, msg) : 'refused';
      if (outcome === 'taken' && answered) this.#awaiting.set(msg.id, answered);
      else if (outcome !== 'taken') answered?.(outcome === 'busy' ? 503 : 404);
    },
    me: () => this.#jid,
  });
  /** The server offers XEP-0198 on this socket. */
  #canManage = false;
  #connectTimer: number | undefined;
  #pingTimer: number | undefined;
  /** Runs when the first held chat's receipt is due. */
  #receiptTimer: number | undefined;
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
    this.#delivered = new Seen(dedupWindow);
    this.#answers = new Seen(dedupWindow);
    const jid = readJid(jidOf(ctx.identity.address));
    this.#domain = ctx.domain;
    this.#user = jid?.local ?? '';
    this.#resource = `${this.#config.resource}.${random(8)}`;
    this.#guestOf = jid && jid.domain !== ctx.domain ? jid.domain : undefined;
    // Nothing to log in as: failed once the first member joined (and hears it).
    if (!jid) this.#session.fail(`${ctx.identity.address} has no XMPP address`, 'PF_ERR_AUTH');
    else if (this.#guestOf !== undefined && this.#config.guestUrl === undefined)
      this.#session.fail(
        `${ctx.domain} names no guestUrl, so it admits no users of ${jid.domain}`,
        'PF_ERR_CONFIG',
      );
    else this.#connect();
  }

  join(ctx: StubContext): Member {
    const member = new Member(ctx);
    this.#session.join(member);
    for (const msg of restore(ctx.snapshot)) this.post(member, msg);
    return member;
  }

  /** What the runtime hands the stub: chats for the far side, and its answers to theirs. */
  post(member: Member, msg: Message): void {
    if (msg.type === 'response') return this.#answer(msg);
    const withdrawn = withdrawnId(msg);
    if (withdrawn !== undefined) {
      // A chat may have gone before a reconnect: never taken back (200), its receipt will say.
      return answer(member.ctx, msg, member.pending.has(withdrawn) ? 409 : 404);
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
    if (member.pending.size >= this.#config.maxQueued)
      return answer(member.ctx, msg, 503, `${this.#config.maxQueued} chats wait for their receipts already`);
    member.pending.set(msg.id, msg);
    if (this.#phase === 'ready') this.#sendChat(member, msg);
  }

  #sendChat(member: Member, msg: Message): void {
    this.#write(x.chat(msg.id, jidOf(msg.to)!, textOf(msg)!), { member, msg });
  }

  /** A call body: live calls only, so none waits for a stream that is down (503). */
  #call(member: Member, msg: Message, body: ConversationBody): void {
    const to = jidOf(msg.to);
    if (!to) return answer(member.ctx, msg, 400, `${msg.to} has no XMPP address`);
    const failure = this.#session.failure;
    if (failure) return answer(member.ctx, msg, 503, failure.detail);
    if (this.#phase !== 'ready') return answer(member.ctx, msg, 503, 'not connected to the XMPP server');
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
    // A newer state replaces one still waiting, which is answered: it was superseded, not lost.
    const waiting = member.presence;
    if (waiting) answer(member.ctx, waiting, 200);
    member.presence = msg;
    if (this.#phase === 'ready') this.#sendPresence(member);
  }

  #sendPresence(member: Member): void {
    const msg = member.presence;
    const body = msg && presenceOf(msg);
    member.presence = undefined;
    if (!msg || !body) return;
    this.#write(x.directedPresence(jidOf(msg.to)!, body.status, body.note));
    answer(member.ctx, msg, 200);
  }

  /** An instance stops; the last one closes the stream. */
  leave(member: Member): void {
    if (!this.#session.leave(member) || this.#session.members.length > 0) return;
    this.#session.close();
    const socket = this.#socket;
    if (socket && this.#phase === 'ready') {
      // XEP-0198 §4: "It is RECOMMENDED that initiating entities (usually clients) send an <a/>
      // element right before they gracefully close the stream ... Otherwise it can happen that
      // stanzas are re-sent (usually by the server) although they were actually received."
      // Prosody puts what we did not acknowledge in offline storage, and the chat comes again.
      if (this.#sm?.counting) this.#write(x.ack(this.#sm.inbound));
      this.#write(x.close());
    }
    this.#socket = undefined;
    socket?.close(1000, 'done');
  }

  /** The runtime's answer to a chat it was handed: a receipt (200) or an error, to the sender. */
  #answer(res: Message & { type: 'response' }): void {
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
          ? x.receipt(this.#id('r'), inbound.to, inbound.id)
          : undefined
        : x.stanzaError('message', inbound.id, inbound.to, x.conditionOfCode(res.body.code));
    if (!reply) return;
    this.#answers.add(key, reply);
    if (this.#phase === 'ready') this.#write(reply);
    else this.#unsent.push(reply);
  }

  #id(prefix: string): string {
    return `${prefix}${++this.#next}`;
  }

  /** Connects: a guest asks for its account first (a restarted server, or one it left, has forgotten it). */
  #connect(): void {
    this.#phase = 'opening';
    const guestUrl = this.#config.guestUrl;
    if (this.#guestOf === undefined || guestUrl === undefined) return this.#open();
    fetchGuestCredentials(this.#session.owner, guestUrl, this.#session, (result) => {
      if (this.#session.failure || this.#session.members.length === 0) return;
      if (!isProtoflyError(result)) return this.#guest(result.username, result.password, result.aor);
      // The service could not answer now: tried again later, as a lost connection is.
      if (result.code === 'PF_ERR_FETCH') return this.#lost(result.message);
      this.#fail(result.message, result.code);
    });
  }

  /** Logs in as the guest account the service gave, once it is one of this server's. */
  #guest(username: string, password: string, aor: string): void {
    const jid = aor.startsWith('xmpp:') ? readJid(aor.slice(5)) : undefined;
    if (jid?.local !== username || jid.domain !== this.#domain || jid.resource !== undefined)
      return this.#fail(`the guest service gave ${JSON.stringify(aor)}, not an account here`, 'PF_ERR_FRAME');
    this.#user = username;
    this.#guestPassword = password;
    this.#open();
  }

  /** Opens the socket, on the clock of the session's oldest member, and bounds the log-in. */
  #open(): void {
    const ctx = this.#session.owner;
    let socket: StubSocket;
    // What the host said before closing: a socket it refused, why.
    let error: string | undefined;
    try {
      socket = ctx.connect(this.#config.url, ['xmpp'], {
        onOpen: () => socket === this.#socket && this.#write(x.open(this.#domain)),
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

  /** A frame from the server. Whatever it holds, nothing here throws: a bad frame is logged. */
  #receive(data: string): void {
    const log = this.#session.owner.log;
    if (data.length > this.#config.maxFrameBytes)
      return log.warn('xmpp-ws: a frame too large, dropped', { length: data.length });
    let frame: x.Frame | undefined;
    try {
      const el = parseXml(data);
      // XEP-0198 §4: every stanza the server sends counts, whatever the stub does with it.
      const sm = this.#sm;
      if (sm?.counting && x.isStanza(el.name, el.ns)) sm.inbound = (sm.inbound + 1) >>> 0;
      frame = x.readFrame(el);
    } catch (err) {
      return log.warn('xmpp-ws: a frame that is not XMPP XML', { error: (err as Error).message });
    }
    if (!frame) return log.debug('xmpp-ws: a frame not understood', { frame: data.slice(0, 80) });
    switch (frame.verb) {
      case 'features':
        return this.#features(frame.mechanisms, frame.bind, frame.sm);
      case 'sm-enabled':
        return this.#enabled(frame.id);
      case 'sm-resumed':
        return this.#resumed(frame.h);
      case 'sm-failed':
        return this.#managementFailed(frame.h, frame.condition);
      case 'sm-ack':
        return this.#acked(frame.h);
      case 'sm-request':
        return this.#sm?.counting ? this.#write(x.ack(this.#sm.inbound)) : undefined;
      case 'challenge':
        return this.#challenge(frame.data);
      case 'success':
        return this.#success(frame.data);
      case 'failure':
        // A server that is only busy says so; anything else is a verdict on the credentials.
        if (frame.condition === 'temporary-auth-failure') return this.#giveUp('temporary-auth-failure');
        return this.#fail(`the server refused the log-in: ${frame.condition}`, 'PF_ERR_AUTH');
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
        return this.#deliver(frame);
      case 'receipt':
        return this.#answered(bare(frame.from), frame.id, 200);
      case 'message-error':
        return this.#answered(bare(frame.from), frame.id, frame.code);
      case 'presence':
        return this.#presenceOf(frame.from, frame.status, frame.note);
      case 'stream-error':
        // The server closes next; a reconnect follows unless it was a verdict on us.
        return log.warn('xmpp-ws: stream error', { condition: frame.condition });
      case 'close':
        return this.#giveUp('the server closed the stream');
      default:
        return;
    }
  }

  /** Stream features: SASL mechanisms before authentication, binding after. */
  #features(mechanisms: readonly string[], bind: boolean, sm: boolean): void {
    if (this.#phase === 'opening') {
      // The strongest both sides allow (SCRAM_MECHANISMS lists them strongest first).
      const chosen = Object.keys(SCRAM_MECHANISMS).find(
        (m) => this.#config.mechanisms.includes(m) && mechanisms.includes(m),
      );
      if (!chosen)
        return this.#fail(
          `no SASL mechanism in common (the server offers ${mechanisms.join(', ') || 'none'})`,
          'PF_ERR_AUTH',
        );
      const ctx = this.#session.owner;
      const password = this.#guestPassword ?? this.#config.password ?? ctx.identity.token ?? '';
      this.#scram = new ScramClient(
        SCRAM_MECHANISMS[chosen]!,
        this.#user,
        password,
        random(24),
        this.#config.maxIterations,
      );
      this.#phase = 'authenticating';
      return this.#write(x.auth(chosen, this.#scram.first()));
    }
    if (this.#phase !== 'restarting' || !bind) return;
    this.#canManage = sm;
    const previous = this.#sm;
    if (sm && previous?.id !== undefined) {
      // XEP-0198 §5: resumed instead of bound, the session and what the server holds for it kept.
      this.#phase = 'resuming';
      return this.#write(x.resume(previous.id, previous.inbound));
    }
    if (previous) this.#abandon(previous);
    this.#bind();
  }

  #bind(): void {
    this.#phase = 'binding';
    this.#write(x.bindRequest('bind', this.#resource));
  }

  /** A stream management session that cannot be resumed: what the server had not acknowledged goes on the next stream. */
  #abandon(sm: Management): void {
    this.#sm = undefined;
    this.#leftover.push(...sm.unacked);
  }

  /** XEP-0198 enabled (§3): the server's stanzas count from here. */
  #enabled(id: string | undefined): void {
    const sm = this.#sm;
    if (this.#phase !== 'enabling' || !sm) return;
    sm.id = id;
    sm.counting = true;
    this.#ready(false);
  }

  /** Resumed (§5): the server says how much of ours it handled, and the rest goes again. */
  #resumed(h: number): void {
    const sm = this.#sm;
    if (this.#phase !== 'resuming' || !sm) return;
    this.#acked(h);
    this.#ready(true);
  }

  /** `<failed/>`: to enable (the stream goes on without), or to resume (a new session, after what it handled). */
  #managementFailed(h: number | undefined, condition: string): void {
    const sm = this.#sm;
    this.#session.owner.log.info('xmpp-ws: stream management failed', { condition, phase: this.#phase });
    if (this.#phase === 'enabling') {
      this.#sm = undefined;
      return this.#ready(false);
    }
    if (this.#phase !== 'resuming' || !sm) return;
    // Prosody says how much of the old session it handled (XEP-0198 §5): none of that goes again.
    if (h !== undefined) this.#acked(h);
    this.#abandon(sm);
    this.#bind();
  }

  /** The server handled our stanzas up to `h`: those are off the queue; a chat among them is held by it. */
  #acked(h: number): void {
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
    const due = Date.now() + this.#config.receiptTimeoutMs;
    for (const { chat } of sm.unacked.splice(0, n)) {
      const { member, msg } = chat ?? {};
      if (member && msg && member.pending.has(msg.id) && !member.held.has(msg.id))
        member.held.set(msg.id, due);
    }
    this.#awaitReceipts();
    sm.acked = (sm.acked + n) >>> 0;
    sm.requested = false;
    if (sm.unacked.length > 0 && this.#phase === 'ready') this.#requestAck(sm);
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
    for (const m of this.#session.members) {
      const next = m.held.values().next();
      if (!next.done) first = Math.min(first, next.value);
    }
    if (first === Number.POSITIVE_INFINITY) return;
    this.#receiptTimer = this.#session.setTimeout(
      () => {
        this.#receiptTimer = undefined;
        const now = Date.now();
        for (const m of this.#session.members) {
          for (const [id, due] of m.held) {
            if (due > now) break;
            m.held.delete(id);
            const req = m.pending.get(id);
            if (!req) continue;
            m.pending.delete(id);
            answer(
              m.ctx,
              req,
              504,
              `the XMPP server took it, and no receipt came within ${this.#config.receiptTimeoutMs} ms`,
            );
          }
        }
        this.#awaitReceipts();
      },
      Math.max(0, first - Date.now()),
    );
  }

  #requestAck(sm: Management): void {
    sm.requested = true;
    this.#write(x.ackRequest());
  }

  #challenge(data: string): void {
    const scram = this.#scram;
    const socket = this.#socket;
    if (this.#phase !== 'authenticating' || !scram) return;
    scram.final(data).then(
      (reply) => socket === this.#socket && this.#write(x.saslResponse(reply)),
      (err: Error) => socket === this.#socket && this.#fail(err.message, 'PF_ERR_AUTH'),
    );
  }

  #success(data: string): void {
    if (this.#phase !== 'authenticating' || !this.#scram) return;
    try {
      this.#scram.verify(data);
    } catch (err) {
      return this.#fail((err as Error).message, 'PF_ERR_AUTH');
    }
    this.#scram = undefined;
    this.#phase = 'restarting';
    this.#write(x.open(this.#domain));
  }

  #iqAnswered(verb: 'iq-result' | 'iq-error', id: string, jid: string | undefined): void {
    const done = this.#iqs.get(id);
    if (done) {
      this.#iqs.delete(id);
      return done(verb === 'iq-result');
    }
    if (id === 'bind' && this.#phase === 'binding') {
      if (verb === 'iq-error' || !jid) return this.#giveUp('the server refused to bind a resource');
      this.#jid = jid;
      if (!this.#canManage) return this.#ready(false);
      // Counted from `<enable/>` on, ours (the server counts from there); the server's from `<enabled/>`.
      this.#sm = { id: undefined, counting: false, inbound: 0, acked: 0, unacked: [], requested: false };
      this.#phase = 'enabling';
      return this.#write(x.enable());
    }
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
    this.#phase = 'ready';
    if (this.#connectTimer !== undefined) this.#session.clearTimeout(this.#connectTimer);
    this.#connectTimer = undefined;
    this.#backoff.reset();
    const sm = this.#sm;
    const again = resumed && sm ? sm.unacked.splice(0) : this.#leftover.splice(0);
    if (sm) sm.requested = false;
    if (!resumed) this.#write(x.presence());
    this.#session.broadcast('live');
    const sent = new Set<Message>();
    for (const u of again) {
      // A chat answered meanwhile is not sent again; nor the old stream's iqs (pings, pongs), which meant that stream only.
      if (u.chat ? !u.chat.member.pending.has(u.chat.msg.id) : u.tree[0] === 'iq') continue;
      if (u.chat) sent.add(u.chat.msg);
      this.#write(u.tree, u.chat);
    }
    for (const m of this.#session.members) {
      for (const msg of m.pending.values()) if (!sent.has(msg) && !m.held.has(msg.id)) this.#sendChat(m, msg);
      this.#sendPresence(m);
    }
    for (const reply of this.#unsent.splice(0)) this.#write(reply);
    this.#schedulePing();
  }

  /** XEP-0199: a ping every `pingIntervalMs` while ready; one unanswered in `pingTimeoutMs` gives the socket up. */
  #schedulePing(): void {
    const { pingIntervalMs, pingTimeoutMs } = this.#config;
    if (pingIntervalMs === 0) return;
    const socket = this.#socket;
    this.#pingTimer = this.#session.setTimeout(() => {
      if (socket !== this.#socket || this.#phase !== 'ready') return;
      this.#write(x.ping(this.#id('ping'), this.#domain));
      this.#pingTimer = this.#session.setTimeout(
        () => socket === this.#socket && this.#giveUp(`no pong within ${pingTimeoutMs} ms`),
        pingTimeoutMs,
      );
    }, pingIntervalMs);
  }

  /** A chat from someone: to the conversation with them, else to the inbox. */
  #deliver(chat: x.Chat): void {
    const from = addressOf(chat.from)!;
    const to = this.#session.owner.identity.address;
    const id = chat.id ?? this.#id('xmpp-');
    const key = `${from} ${id}`;
    const again = this.#answers.get(key);
    if (again) return this.#write(again);
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
    const members = this.#session.members;
    const member = members.find((m) => m.ctx.peer === from) ?? members.find((m) => !m.ctx.peer);
    // A canonical id is printable ASCII; an XMPP id may be anything, so a strange one is not passed on.
    const msg: Message = {
      id: isMessageId(id) ? id : this.#id('xmpp-'),
      type: 'create',
      from,
      to,
      body: { value: { kind: 'chat', text: chat.text } },
    };
    if (msg.id !== id) this.#delivered.add(`${from} ${msg.id}`, inbound);
    const outcome = member ? offer(member.ctx, msg) : 'refused';
    if (outcome === 'taken') return;
    // Nobody here takes it (404), or the runtime cannot now (503): the sender is told.
    this.#answer(response(msg, outcome === 'busy' ? 503 : 404) as Message & { type: 'response' });
  }

  /** Someone's presence: an `update` to the conversation with them, else the inbox; one's own resources' is not. */
  #presenceOf(jid: Jid, status: x.PresenceStatus, note: string | undefined): void {
    if (bare(jid) === `${this.#user}@${this.#domain}`) return;
    const from = addressOf(jid)!;
    const to = this.#session.owner.identity.address;
    const members = this.#session.members;
    const member = members.find((m) => m.ctx.peer === from) ?? members.find((m) => !m.ctx.peer);
    const value: Presence =
      note === undefined ? { kind: 'presence', status } : { kind: 'presence', status, note };
    const msg: Message = { id: this.#id('presence-'), type: 'update', from, to, body: { value } };
    // A state, not a request anyone waits on: one the runtime cannot take now is superseded by the next.
    if (!member || offer(member.ctx, msg) !== 'taken')
      this.#session.owner.log.debug('xmpp-ws: a presence not taken', { from });
  }

  /** A receipt or an error from `from` for chat `id`: to the conversation that sent it. */
  #answered(from: string, id: string, code: number): void {
    for (const m of this.#session.members) {
      const req = m.pending.get(id);
      if (!req || jidOf(req.to) !== from) continue;
      m.pending.delete(id);
      m.held.delete(id);
      if (offer(m.ctx, response(req, code)) !== 'taken')
        m.ctx.log.warn('xmpp-ws: the runtime did not take an answer', { id });
      return;
    }
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
    this.#phase = 'opening';
    this.#scram = undefined;
    for (const t of [this.#connectTimer, this.#pingTimer]) if (t !== undefined) this.#session.clearTimeout(t);
    this.#connectTimer = this.#pingTimer = undefined;
    this.#session.broadcast('disconnected', why);
    this.#session.setTimeout(() => this.#connect(), this.#backoff.next());
  }

  /** Fails for good: what the members still wait for is answered first, and the socket closes. */
  #fail(detail: string, code?: string): void {
    const socket = this.#socket;
    this.#socket = undefined;
    for (const t of [this.#connectTimer, this.#pingTimer]) if (t !== undefined) this.#session.clearTimeout(t);
    this.#session.fail(detail, code, () => {
      for (const m of this.#session.members) {
        for (const msg of m.pending.values()) answer(m.ctx, msg, 503, detail);
        m.pending.clear();
      }
    });
    socket?.close(1000, 'failed');
  }

  /**
   * Writes an element. One a closing socket refuses is not lost: chats wait in `pending`,
   * answers in `#answers`, and under XEP-0198 every stanza stays queued until the server
   * acknowledges it, with an `<r/>` asking for that.
   */
  #write(tree: Xml, chat?: Unacked['chat']): void {
    try {
      this.#socket?.send(writeXml(tree));
    } catch (err) {
      this.#session.owner.log.debug('xmpp-ws: not sent, the socket is closing', { error: String(err) });
    }
    const sm = this.#sm;
    if (!sm || !x.isStanza(tree[0], tree[1].xmlns)) return;
    sm.unacked.push(chat ? { tree, chat } : { tree });
    if (!sm.requested) this.#requestAck(sm);
  }
}

/** Whether `id` may be a canonical message's id (schemas/message.schema.json, messageId). */
function isMessageId(id: string): boolean {
  if (id.length < 1 || id.length > 128) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** The canonical presence body. */
type Presence = { readonly kind: 'presence'; readonly status: x.PresenceStatus; readonly note?: string };

/** The presence an `update` carries; undefined for anything else. */
function presenceOf(msg: Message): Presence | undefined {
  const body = msg.type === 'update' ? (msg.body.value as ConversationBody) : undefined;
  return body?.kind === 'presence' ? (body as Presence) : undefined;
}

/** The call body (an offer, or an in-call update) a request carries; undefined for anything else. */
function callOf(msg: Message): ConversationBody | undefined {
  if (msg.type !== 'create' && msg.type !== 'update') return undefined;
  const body = msg.body.value as ConversationBody | undefined;
  if (!body || body.kind === 'chat' || body.kind === 'presence') return undefined;
  return msg.type === 'create' ? (body.kind === 'offer' ? body : undefined) : body;
}

/** The text of a chat request; undefined for anything else. */
function textOf(msg: Message): string | undefined {
  const body = msg.type === 'create' ? (msg.body.value as ConversationBody) : undefined;
  return body?.kind === 'chat' && typeof body.text === 'string' ? body.text : undefined;
}

/** The chats another version of this stub had not had answered (a live swap), if its snapshot is one of ours. */
function restore(snapshot: unknown): Message[] {
  const pending = (snapshot as { pending?: unknown } | undefined)?.pending;
  if (!Array.isArray(pending)) return [];
  return pending.flatMap((p: unknown) => {
    const { id, from, to, text } = (p ?? {}) as Record<string, unknown>;
    if (
      typeof id !== 'string' ||
      !isMessageId(id) ||
      typeof from !== 'string' ||
      typeof to !== 'string' ||
      typeof text !== 'string'
    )
      return [];
    return [{ id, type: 'create', from, to, body: { value: { kind: 'chat', text } } } satisfies Message];
  });
}

const activate: Activate = (ctx) => {
  const stream = shared(ctx, 'xmpp-ws/stream', () => new Stream(ctx));
  const member = stream.join(ctx);
  return {
    postMessage: (msg) => stream.post(member, msg),
    stop: () => stream.leave(member),
    snapshot: () => ({
      pending: [...member.pending.values()].map((m) => ({
        id: m.id,
        from: m.from,
        to: m.to,
        text: textOf(m),
      })),
    }),
  };
};

export default activate;
