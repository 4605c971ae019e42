import type { ConversationBody, Message } from 'protofly';
import type { Activate, StubContext, StubLog, StubSocket } from 'protofly/stub';

/**
 * A protofly stub for linechat, a made-up line protocol: one text line per WebSocket message.
 *
 *   HELLO <address> <token>       the client logs in             → WELCOME <address>
 *   MSG <id> <from> <to> <text>   a chat, to every connection of <to>
 *   ACK <id> <from> <to> <code>   the answer to MSG <id>, back to its sender
 *
 * The server answers `ACK <id> <to> <from> 404` itself for a MSG nobody is connected to take.
 */

/** Its configuration (protofly.json's schema): checked, defaults filled in, by the runtime. */
type Config = {
  readonly url: string;
  readonly reconnectMs: number;
};

/** One instance: a conversation with `ctx.peer`, or the inbox (no peer) that takes new ones. */
interface Member {
  readonly ctx: StubContext<Config>;
  /** The MSG frames of this conversation's requests not answered yet, by message id. */
  readonly pending: Map<string, string>;
  live: boolean;
}

/** Answers remembered to give again, at most. */
const ANSWERS_KEPT = 1000;

/** The one socket the instances of a session (this stub version, this user) share. */
class Line {
  readonly members = new Set<Member>();
  /** Answers given, by `<from> <id>` of the MSG: a MSG resent after a reconnect gets its answer again. */
  readonly answered = new Map<string, string>();
  welcomed = false;
  #socket: StubSocket;
  /** The reconnection armed on a member's clock, if any. */
  #retry: Member | undefined;

  /** This session's line, opened by the first instance that needs it. */
  static join(member: Member): Line {
    const { session } = member.ctx;
    const line = (session.get('line') as Line | undefined) ?? new Line(member);
    session.set('line', line);
    line.members.add(member);
    if (line.welcomed) line.#live(member);
    else member.ctx.status('connecting');
    return line;
  }

  constructor(member: Member) {
    this.#socket = this.#connect(member);
  }

  /** What the runtime hands the stub: requests for the far side, and its answers to theirs. */
  post(member: Member, msg: Message): void {
    let frame: string;
    const body = msg.type === 'create' ? (msg.body.value as ConversationBody) : undefined;
    if (msg.type === 'response') {
      frame = `ACK ${msg.id} ${msg.from} ${msg.to} ${msg.body.code}`;
      // Kept to answer again: the sender resends what it had no answer to after a reconnect.
      this.answered.set(`${msg.to} ${msg.id}`, frame);
      if (this.answered.size > ANSWERS_KEPT) this.answered.delete(this.answered.keys().next().value!);
    } else if (body?.kind === 'chat') {
      frame = `MSG ${msg.id} ${msg.from} ${msg.to} ${body.text}`;
      member.pending.set(msg.id, frame);
    } else if (msg.type === 'execute' && msg.body.method === 'protofly.withdraw') {
      // The runtime gave up waiting for an answer. A request may have gone before a reconnect,
      // so it is never taken back (200): 409, its own answer will come; 404, none is waiting.
      const id = (msg.body.params as { id?: unknown } | undefined)?.id;
      const code = typeof id === 'string' && member.pending.has(id) ? 409 : 404;
      return offer(member, { id: msg.id, type: 'response', from: msg.to, to: msg.from, body: { code } });
    } else {
      // Every request is answered: what linechat cannot carry, the stub answers itself.
      const refusal = { code: 501, description: 'linechat carries chat only' };
      return offer(member, { id: msg.id, type: 'response', from: msg.to, to: msg.from, body: refusal });
    }
    // While the line is down, requests wait in `pending` and go on WELCOME.
    if (this.welcomed) this.#send(frame);
  }

  /** An instance stops; the last one closes the line. */
  leave(member: Member): void {
    this.members.delete(member);
    // Its timers stop with it: a reconnection it was to make, another member makes.
    if (this.#retry === member) this.#arm();
    if (this.members.size > 0) return;
    member.ctx.session.delete('line');
    this.#socket.close(1000, 'done');
  }

  /** The log of the session's first instance: there is no console in a sandbox. */
  get #log(): StubLog | undefined {
    return this.members.values().next().value?.ctx.log;
  }

  /** Writes a frame. One a closing socket refuses is not lost: requests wait in `pending`, answers in `answered`. */
  #send(frame: string): void {
    try {
      this.#socket.send(frame);
    } catch (err) {
      this.#log?.debug('linechat: not sent, the socket is closing', { error: String(err) });
    }
  }

  #connect({ ctx }: Member): StubSocket {
    const socket = ctx.connect(ctx.config.url, [], {
      onOpen: () => socket.send(`HELLO ${ctx.identity.address} ${ctx.identity.token ?? '-'}`),
      onMessage: (data) => this.#receive(data),
      onClose: (code, reason) => this.#lost(code, reason),
    });
    return socket;
  }

  /** A frame from the server. Whatever it holds, nothing here throws: a bad frame is logged. */
  #receive(data: string): void {
    const [verb, id = '', from = '', to = '', ...rest] = data.split(' ');
    if (verb === 'WELCOME') {
      this.welcomed = true;
      for (const m of this.members) this.#live(m);
    } else if (verb === 'MSG') {
      this.#deliver(id, from, to, rest.join(' '));
    } else if (verb === 'ACK') {
      const code = Number(rest[0]);
      const member = [...this.members].find((m) => m.pending.delete(id));
      if (!member || !(code >= 200 && code < 700)) return;
      const description = code < 300 ? 'OK' : 'not delivered';
      offer(member, { id, type: 'response', from, to, body: { code, description } });
    } else {
      this.#log?.warn('linechat: unknown frame', { frame: data.slice(0, 80) });
    }
  }

  /** A chat from the server: to the conversation with its sender, else to the inbox. */
  #deliver(id: string, from: string, to: string, text: string): void {
    const members = [...this.members];
    if (to !== members[0]?.ctx.identity.address) return;
    const again = this.answered.get(`${from} ${id}`);
    if (again) return this.#send(again);
    const member = members.find((m) => m.ctx.peer === from) ?? members.find((m) => m.ctx.peer === undefined);
    if (!member) return this.#send(`ACK ${id} ${to} ${from} 404`);
    offer(member, { id, type: 'create', from, to, body: { value: { kind: 'chat', text } } });
  }

  /** `member` is live: what it holds goes now. */
  #live(member: Member): void {
    if (!member.live) member.ctx.status('live');
    member.live = true;
    for (const frame of member.pending.values()) this.#send(frame);
  }

  /** The socket closed: every instance is disconnected, and one of them connects again later. */
  #lost(code: number, reason: string): void {
    this.welcomed = false;
    for (const m of this.members) {
      // The server refused who we said we are: failing with a code the app can branch on.
      if (code === 4401) m.ctx.status('failed', reason, 'PF_ERR_AUTH');
      else if (m.live) m.ctx.status('disconnected', reason);
      m.live = false;
    }
    if (code !== 4401) this.#arm();
  }

  #arm(): void {
    const [member] = this.members;
    this.#retry = member;
    if (!member) return;
    member.ctx.setTimeout(() => {
      if (this.#retry !== member) return;
      this.#retry = undefined;
      this.#socket = this.#connect(member);
    }, member.ctx.config.reconnectMs);
  }
}

/** Puts a message on the runtime's bus; what the runtime refuses (a spoofed sender, a flood) is logged. */
function offer(member: Member, msg: Message): void {
  try {
    member.ctx.send(msg);
  } catch (err) {
    member.ctx.log.warn('linechat: the runtime refused a message', { id: msg.id, error: String(err) });
  }
}

/** The requests another version of this stub left unanswered (a live swap), if its snapshot is one of ours. */
function restore(snapshot: unknown): [string, string][] {
  const frames = (snapshot as { pending?: unknown } | undefined)?.pending;
  if (!Array.isArray(frames)) return [];
  return frames
    .filter((f): f is string => typeof f === 'string' && f.startsWith('MSG '))
    .map((f) => [f.split(' ')[1]!, f]);
}

const activate: Activate = (context) => {
  const ctx = context as StubContext<Config>;
  const member: Member = { ctx, pending: new Map(restore(ctx.snapshot)), live: false };
  const line = Line.join(member);
  return {
    postMessage: (msg) => line.post(member, msg),
    stop: () => line.leave(member),
    snapshot: () => ({ pending: [...member.pending.values()] }),
  };
};

export default activate;
