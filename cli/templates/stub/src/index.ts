import {
  type Activate,
  answer,
  Backoff,
  type ConversationBody,
  isProvisional,
  type Message,
  offer,
  parseAddress,
  response,
  Seen,
  SessionMember,
  SharedSession,
  type StubContext,
  type StubSocket,
  shared,
  withdrawnId,
} from 'protofly/stub';

/**
 * A protofly stub for linechat, a made-up line protocol: one text line per WebSocket message.
 *
 *   HELLO <address> <token>       the client logs in             → WELCOME <address>
 *   MSG <id> <from> <to> <text>   a chat, to every connection of <to>
 *   ACK <id> <from> <to> <code>   the answer to MSG <id>, back to its sender
 *
 * The server answers `ACK <id> <to> <from> 404` itself for a MSG nobody is connected to take,
 * and closes with 4401 a HELLO it refuses.
 */

/** Its configuration (protofly.json's schema): checked, defaults filled in, by the runtime. */
type Config = {
  readonly url: string;
  readonly reconnectMs: number;
  readonly reconnectMaxMs: number;
};

/** `MSG <id> <from> <to> <text>`, read. */
interface Chat {
  readonly verb: 'MSG';
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly text: string;
}
/** `ACK <id> <from> <to> <code>`, read. */
interface Ack {
  readonly verb: 'ACK';
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly code: number;
}
/** A frame from the server, read. */
type Frame = { readonly verb: 'WELCOME' } | Chat | Ack;

/** MSGs remembered, with the answers given to them: a MSG sent again is answered again, never delivered twice. */
const REMEMBERED = 1000;

/** One instance, as a member of its session's line: a conversation with `ctx.peer`, or the inbox (no peer). */
class Member extends SessionMember {
  /** This conversation's requests the far side has not answered yet, by id: they go (again) on every WELCOME. */
  readonly pending = new Map<string, Message>();
}

/** The one socket the instances of a session (this stub version, this user) share. */
class Line {
  /** The members, the timers (on the oldest member's clock), the status they all report. */
  readonly #session: SharedSession<Member>;
  readonly #config: Config;
  readonly #backoff: Backoff;
  /** The MSGs handed to the runtime, by `<from> <id>`. */
  readonly #delivered = new Seen(REMEMBERED);
  /** The ACKs given, by the `<from> <id>` of the MSG they answer. */
  readonly #answers = new Seen<string>(REMEMBERED);
  /** ACKs given while the line was down: they go on WELCOME. */
  readonly #unsent: string[] = [];
  #socket: StubSocket | undefined;
  #welcomed = false;

  constructor(ctx: StubContext) {
    this.#session = new SharedSession(ctx, 'linechat/line');
    this.#config = ctx.config as Config;
    const { reconnectMs, reconnectMaxMs } = this.#config;
    this.#backoff = new Backoff(reconnectMs, reconnectMaxMs, 0.5, ctx.identity.address);
    this.#connect();
  }

  /** `ctx`'s instance joins: it reports what the line is (connecting, live, failed) and takes over a snapshot. */
  join(ctx: StubContext): Member {
    const member = new Member(ctx);
    this.#session.join(member);
    for (const chat of restore(ctx.snapshot)) this.post(member, request(chat));
    return member;
  }

  /** What the runtime hands the stub: requests for the far side, and its answers to theirs. */
  post(member: Member, msg: Message): void {
    if (msg.type === 'response') {
      // linechat has final answers only.
      if (isProvisional(msg.body.code)) return;
      const ack = `ACK ${msg.id} ${msg.from} ${msg.to} ${msg.body.code}`;
      // Kept to answer again: the sender resends what it had no answer to after a reconnect.
      this.#answers.add(`${msg.to} ${msg.id}`, ack);
      if (this.#welcomed) this.#write(ack);
      else this.#unsent.push(ack);
      return;
    }
    const withdrawn = withdrawnId(msg);
    if (withdrawn !== undefined) {
      // The runtime gave up waiting. A request may have gone before a reconnect, so it is never
      // taken back (200): 409, its own answer will come; 404, none is waiting.
      return answer(member.ctx, msg, member.pending.has(withdrawn) ? 409 : 404);
    }
    // Every request is answered: what linechat cannot carry, or cannot send any more, the stub answers itself.
    if (textOf(msg) === undefined) return answer(member.ctx, msg, 501, 'linechat carries chat only');
    const failure = this.#session.failure;
    if (failure) return answer(member.ctx, msg, 503, failure.detail);
    member.pending.set(msg.id, msg);
    // While the line is down, requests wait in `pending` and go on WELCOME.
    if (this.#welcomed) this.#write(frameOf(msg));
  }

  /** An instance stops; the last one closes the line. */
  leave(member: Member): void {
    if (!this.#session.leave(member) || this.#session.members.length > 0) return;
    this.#session.close();
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1000, 'done');
  }

  /** Opens the socket, on the clock of the session's oldest member. */
  #connect(): void {
    const ctx = this.#session.owner;
    let socket: StubSocket;
    try {
      socket = ctx.connect(this.#config.url, [], {
        onOpen: () => this.#write(`HELLO ${ctx.identity.address} ${ctx.identity.token ?? ''}`),
        // A socket given up (closed by the stub) is heard no more.
        onMessage: (data) => socket === this.#socket && this.#receive(data),
        onClose: (code, reason) => socket === this.#socket && this.#lost(code, reason),
      });
    } catch (err) {
      // Its url is outside the endpoints the runtime allows: no retry will do better.
      return this.#fail(`cannot connect: ${(err as Error).message}`);
    }
    this.#socket = socket;
  }

  /** A frame from the server. Whatever it holds, nothing here throws: a bad frame is logged. */
  #receive(data: string): void {
    const frame = read(data);
    if (frame?.verb === 'WELCOME') this.#welcome();
    else if (frame?.verb === 'MSG') this.#deliver(frame);
    else if (frame?.verb === 'ACK') this.#answered(frame);
    else this.#session.owner.log.warn('linechat: a frame not understood', { frame: data.slice(0, 80) });
  }

  /** Logged in: the line is live, and what waited goes now. */
  #welcome(): void {
    this.#welcomed = true;
    this.#backoff.reset();
    this.#session.broadcast('live');
    for (const m of this.#session.members) for (const msg of m.pending.values()) this.#write(frameOf(msg));
    for (const ack of this.#unsent.splice(0)) this.#write(ack);
  }

  /** A chat from the server: to the conversation with its sender, else to the inbox. */
  #deliver(chat: Chat): void {
    if (chat.to !== this.#session.owner.identity.address) return;
    const key = `${chat.from} ${chat.id}`;
    const again = this.#answers.get(key);
    if (again) return this.#write(again);
    // Handed over already, and not answered yet: its answer will come.
    if (!this.#delivered.add(key)) return;
    const members = this.#session.members;
    const member = members.find((m) => m.ctx.peer === chat.from) ?? members.find((m) => !m.ctx.peer);
    const outcome = member ? offer(member.ctx, request(chat)) : 'refused';
    if (outcome === 'taken') return;
    // Nobody here takes it (404), or the runtime cannot now (503): the sender is told.
    const ack = `ACK ${chat.id} ${chat.to} ${chat.from} ${outcome === 'busy' ? 503 : 404}`;
    this.#answers.add(key, ack);
    this.#write(ack);
  }

  /** The far side's answer: to the conversation whose request it answers. */
  #answered(ack: Ack): void {
    for (const m of this.#session.members) {
      const req = m.pending.get(ack.id);
      if (req?.to !== ack.from || req.from !== ack.to) continue;
      m.pending.delete(ack.id);
      if (offer(m.ctx, response(req, ack.code)) !== 'taken')
        m.ctx.log.warn('linechat: the runtime did not take an answer', { id: ack.id });
      return;
    }
  }

  /** The socket closed: every instance is disconnected, and the line connects again later. */
  #lost(code: number, reason: string): void {
    this.#socket = undefined;
    this.#welcomed = false;
    // The server refused who we said we are: failing for good, with a code the app can branch on.
    if (code === 4401) return this.#fail(reason || 'refused by the server', 'PF_ERR_AUTH');
    this.#session.broadcast('disconnected', reason);
    this.#session.setTimeout(() => this.#connect(), this.#backoff.next());
  }

  /** Fails for good: what the members still wait for is answered first. */
  #fail(detail: string, code?: string): void {
    this.#session.fail(detail, code, () => {
      for (const m of this.#session.members) {
        for (const msg of m.pending.values()) answer(m.ctx, msg, 503, detail);
        m.pending.clear();
      }
    });
  }

  /** Writes a frame. One a closing socket refuses is not lost: requests wait in `pending`, answers in `#answers`. */
  #write(frame: string): void {
    try {
      this.#socket?.send(frame);
    } catch (err) {
      this.#session.owner.log.debug('linechat: not sent, the socket is closing', { error: String(err) });
    }
  }
}

/** The text of a chat request; undefined for anything else. */
function textOf(msg: Message): string | undefined {
  const body = msg.type === 'create' ? (msg.body.value as ConversationBody) : undefined;
  return body?.kind === 'chat' ? body.text : undefined;
}

/** A chat request as linechat sends it. */
function frameOf(msg: Message): string {
  return `MSG ${msg.id} ${msg.from} ${msg.to} ${textOf(msg)}`;
}

/** A MSG as protofly's message: a `create` request whose body value is a chat. */
function request(chat: Chat): Message {
  const { id, from, to, text } = chat;
  return { id, type: 'create', from, to, body: { value: { kind: 'chat', text } } };
}

/** Reads a frame; undefined for anything that is not linechat, or not a frame a runtime may take. */
function read(data: string): Frame | undefined {
  const [verb, id = '', from = '', to = '', ...rest] = data.split(' ');
  if (verb === 'WELCOME') return { verb };
  if (!/^[\x21-\x7e]{1,128}$/.test(id) || !isUser(from) || !isUser(to)) return undefined;
  const text = rest.join(' ');
  if (verb === 'MSG' && text.length <= 65536) return { verb, id, from, to, text };
  const code = Number(text);
  if (verb === 'ACK' && Number.isInteger(code) && code >= 200 && code <= 699)
    return { verb, id, from, to, code };
  return undefined;
}

/** Whether `address` is a user's address (`user://<domain>/<name>`). */
function isUser(address: string): boolean {
  try {
    return parseAddress(address).scheme === 'user';
  } catch {
    return false;
  }
}

/** The chats another version of this stub had not had answered (a live swap), if its snapshot is one of ours. */
function restore(snapshot: unknown): Chat[] {
  const frames = (snapshot as { pending?: unknown } | undefined)?.pending;
  if (!Array.isArray(frames)) return [];
  return frames
    .map((f) => (typeof f === 'string' ? read(f) : undefined))
    .filter((f): f is Chat => f?.verb === 'MSG');
}

const activate: Activate = (ctx) => {
  const line = shared(ctx, 'linechat/line', () => new Line(ctx));
  const member = line.join(ctx);
  return {
    postMessage: (msg) => line.post(member, msg),
    stop: () => line.leave(member),
    snapshot: () => ({ pending: [...member.pending.values()].map(frameOf) }),
  };
};

export default activate;
