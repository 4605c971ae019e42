// Over 400 lines, for one thing: one socket's state machine. The outbox, the requests awaiting
// their answer, the inbox, receipts and liveness all turn over together on every new socket
// (the generation), so they stay in one class rather than in parts that share its fields.

import { Answers } from '../../../core/answers.js';
import { Backoff } from '../../../core/backoff.js';
import { isRetryable, statusOf } from '../../../core/errors.js';
import type { ErrFrame, MsgFrame } from '../../../core/generated/types.js';
import type { Message } from '../../../core/message.js';
import { SeenMessages } from '../../../core/seen.js';
import { type StubContext, type StubSocket, withdrawnId } from '../../../core/stub.js';
import { answer } from '../../../core/stub-kit/answer.js';
import { offer } from '../../../core/stub-kit/offer.js';
import { runtimeRefusal } from '../../../core/stub-kit/refusal.js';
import { SessionMember, SharedSession, shared } from '../../../core/stub-kit/shared-session.js';
import { type JsonWsSettings, settingsOf } from './config.js';
import { readServerFrame } from './frames.js';
import { Outbox, type Outgoing } from './outbox.js';
import { type JsonWsSnapshot, readSnapshot } from './snapshot.js';

/** The WebSocket subprotocol of json-ws (the node's frames.ts names the same). */
export const PROTOCOL = 'protofly.json-ws.v1';
/** Where the connection lives in `ctx.session`: one per domain and identity. */
const SESSION_KEY = 'json-ws/connection';
/** Hyperty addresses remembered to claim again after a reconnect (the node's bound). */
const MAX_HYPERTIES = 64;
/**
 * The close code of a node that is draining (shutting down, its balancer told): reconnect at
 * once, and the balancer puts the connection on another host.
 */
const SERVICE_RESTART = 1012;
/** Retry delay when the host's window toward the socket or the runtime is full. */
const BUSY_RETRY_MS = 10;
/** How far the pause before sending a refused message again grows: 16 × retryPauseMs (4 s by default). */
const RETRY_PAUSE_GROWTH = 16;
/** The most of a node's refusal text a failure quotes: the node is not trusted to be brief. */
const MAX_REFUSAL = 300;
/**
 * The node is told what this connection took (`received`) this long after a message, or at
 * once when this many are untold: few frames, and far below the node's bound (1000 by default).
 */
const RECEIPT_DELAY_MS = 5;
const RECEIPT_EVERY = 100;

type State = 'idle' | 'connecting' | 'live' | 'waiting' | 'failed' | 'closed';
type Slot = 'connect' | 'flush' | 'inbox' | 'receipt' | 'ping';

interface Pending extends Outgoing {
  readonly conversation: Member;
  /** It went on a socket once (or another version's instance may have sent it): it cannot be withdrawn. */
  wired: boolean;
  /** Its far side's final answer came before the node's `ack` (acks are batched): nothing to wait for. */
  answered?: boolean;
  /**
   * The node refused it to be sent again (a retryable code): it goes again even if its far side
   * answers meanwhile (a delivery the node could not confirm), since the node refuses what
   * follows it until it comes.
   */
  refused?: boolean;
}

/**
 * A `msg` frame received, waiting to be handed to the runtime: its number on the socket that
 * brought it (for the receipt), and its message, or none when it was refused as malformed.
 */
interface Inbound {
  readonly m: Message | undefined;
  readonly generation: number;
  readonly n: number;
}

/** One stub instance (one conversation's) as a member of the shared connection: joins, posts, leaves. */
export class Member extends SessionMember {
  /** Addresses this conversation sent to: messages from them come back to it. */
  readonly peers = new Set<string>();
  /** Hyperty addresses this conversation sent from (the connection claims them). */
  readonly hyperties = new Set<string>();

  constructor(
    ctx: StubContext,
    readonly connection: Connection,
  ) {
    super(ctx);
  }

  /** A message from the runtime for the far side. */
  post(msg: Message): void {
    this.connection.send(this, msg);
  }

  /** What the instance of another version needs to take this conversation over (see snapshot.ts). */
  snapshot(): JsonWsSnapshot {
    return this.connection.snapshotOf(this);
  }

  /** The conversation ends; the connection closes with the last one. */
  stop(): void {
    this.connection.leave(this);
    this.report('stopped');
  }
}

/**
 * One json-ws connection to a messaging node, shared through `ctx.session` by every
 * conversation of the same domain and identity.
 *
 * - Authenticates with the first frame and reports `connecting → live`; on a lost socket,
 *   `disconnected`, then reconnects after an exponential, jittered delay, or at once when a
 *   live socket's node closed it draining (1012: its balancer sends the next one elsewhere).
 * - Keeps each message until the node acknowledges it, at most `windowSize` in flight, and
 *   sends the unacknowledged ones again on the next socket (at-least-once on the wire). Keeps
 *   each request to a peer until the peer's final answer comes, and sends the unanswered ones
 *   again, first, on the next socket: a node that goes down loses what it held and the answers
 *   on their way. A request that comes again gets the answer it got (within `dedupWindow`).
 * - After a refusal to send again (a retryable code: a flood, the node's store failing over),
 *   sends nothing new until the node answered everything on the wire and a pause passed, then
 *   sends the refused ones again in their place, one until the node takes it, then the window:
 *   a refused run keeps its order. The pause doubles while the node refuses (up to 16×
 *   retryPauseMs, jittered by randomizationFactor).
 * - Tells the node how many messages it took (`received`, asked for in `auth`): handed to the
 *   runtime, in order. What the runtime cannot take yet (it throws PF_ERR_FLOOD or
 *   PF_ERR_QUEUE_FULL) is kept and not told of, so the node keeps it too, and past its bound
 *   drops this connection as a slow consumer and holds the rest: back-pressure, nothing dropped.
 * - Drops a received message whose key (sender, id, type or response code) it has seen, so
 *   the app gets each message exactly once.
 * - Reads every frame against the schema (frames.ts) before acting on it: a bad one is logged,
 *   counted and ignored; nothing the node sends can make it throw.
 * - Pings a node it has heard nothing from for `pingIntervalMs`; without an answer within
 *   `pingTimeoutMs`, reports `disconnected` and reconnects, keeping what it was sending.
 * - Uses only the context it is given: its owner's `connect` and timers (the oldest live
 *   conversation's), each conversation's `send` and `status`.
 *
 * What it relies on from the stub contract (core/stub.ts) for back-pressure: `ctx.send` that
 * throws has not taken the message (PF_ERR_FLOOD, PF_ERR_QUEUE_FULL: the host or runtime is
 * busy, try later; any other code: refused for good); one that returns has. A request the
 * runtime then cannot take is answered by it (a 503 response, through `postMessage`), which
 * goes back to the sender: refused, not dropped.
 */
export class Connection {
  readonly #settings: JsonWsSettings | undefined;
  /** The members, the timers (on the oldest conversation's context), the status they report. */
  readonly #session: SharedSession<Member>;
  readonly #outbox = new Outbox<Pending>();
  readonly #inbox: Inbound[] = [];
  readonly #seen: SeenMessages;
  /**
   * Requests the node acknowledged whose far side has not answered yet (a final response), in
   * send order. A node that goes down may have lost them, or their answers: they go again on
   * the next socket, first, and the far side answers a repeat from {@link #answers}.
   */
  readonly #awaiting = new Map<string, Pending>();
  /**
   * The frames of the final responses this connection sent, by the request they answer: the
   * frame alone, as thousands are kept; the message is read back from it in the rare case it
   * goes again.
   */
  readonly #answers: Answers<string>;
  readonly #backoff: Backoff;
  readonly #hyperties = new Set<string>();
  /** The session's timers, by what they are for. */
  readonly #timers = new Map<Slot, number>();
  #socket: StubSocket | undefined;
  /** Bumped for every new socket, so a late event of an old one changes nothing. */
  #generation = 0;
  /** `msg` frames the current socket brought, how many were taken (handed on), and told of. */
  #arrived = 0;
  #taken = 0;
  #told = 0;
  /** A refusal to send again is being waited out: nothing new goes until the wire is answered. */
  #backingOff = false;
  /**
   * After a refusal to send again, one message goes at a time until the node takes one: a node
   * whose store fails over for seconds gets one message a pause, not the window refused whole.
   */
  #probing = false;
  /** The pause before sending again, doubling while the node refuses, back to retryPauseMs once it takes one. */
  readonly #retryPause: Backoff;
  /** Some frame came from the node since the last liveness check; a ping is out. */
  #heard = false;
  #pinging = false;
  /** Frames from the node refused as malformed, on every socket. */
  #refusedFrames = 0;
  /** What the node said when it refused this connection (an `err` of no message): why it closes. */
  #refusal: { readonly code: string; readonly message: string } | undefined;
  #state: State = 'idle';

  private constructor(ctx: StubContext) {
    this.#session = new SharedSession(ctx, SESSION_KEY);
    this.#settings = settingsOf(ctx.config);
    const s = this.#settings;
    this.#seen = new SeenMessages(s?.dedupWindow ?? 1);
    this.#answers = new Answers(s?.dedupWindow ?? 1);
    this.#backoff = new Backoff(
      s?.reconnectDelayMs ?? 0,
      s?.reconnectDelayMaxMs ?? 0,
      s?.randomizationFactor ?? 0,
      `${ctx.domain} ${ctx.identity.address}`,
    );
    this.#retryPause = new Backoff(
      s?.retryPauseMs ?? 0,
      (s?.retryPauseMs ?? 0) * RETRY_PAUSE_GROWTH,
      s?.randomizationFactor ?? 0,
      `${ctx.domain} ${ctx.identity.address} retry`,
    );
  }

  /** The conversation of `ctx` on its session's connection, which is made on first use. */
  static join(ctx: StubContext): Member {
    return shared(ctx, SESSION_KEY, () => new Connection(ctx)).#join(ctx);
  }

  #join(ctx: StubContext): Member {
    const conversation = new Member(ctx, this);
    if (this.#state === 'idle' && !this.#settings) this.#fail('ctx.config has no url', 'PF_ERR_CONFIG');
    this.#session.join(conversation);
    const taken = readSnapshot(ctx.snapshot);
    if (taken) this.#takeOver(conversation, taken);
    if (this.#state === 'idle') this.#connect();
    return conversation;
  }

  /**
   * Takes over a conversation another version ran (a live swap): its peers, its hyperty
   * addresses, and its unacknowledged messages, queued first and sent again.
   */
  #takeOver(conversation: Member, snapshot: JsonWsSnapshot): void {
    for (const peer of snapshot.peers) conversation.peers.add(peer);
    for (const h of snapshot.hyperties) this.#claim(conversation, h);
    // The other version may have sent them: none of them can be withdrawn any more.
    for (const msg of snapshot.outbox) this.send(conversation, msg, true);
  }

  /** Remembers a hyperty address of `conversation`, to claim on (re)connecting. */
  #claim(conversation: Member, hyperty: string): void {
    if (this.#hyperties.size >= MAX_HYPERTIES && !this.#hyperties.has(hyperty)) return;
    this.#hyperties.add(hyperty);
    conversation.hyperties.add(hyperty);
  }

  /** The snapshot of one conversation on this connection (see snapshot.ts). */
  snapshotOf(conversation: Member): JsonWsSnapshot {
    return {
      v: 1,
      peers: [...conversation.peers],
      hyperties: [...conversation.hyperties],
      outbox: [...this.#awaiting.values(), ...this.#outbox.entries]
        .filter((e) => e.conversation === conversation)
        .map((e) => e.msg),
    };
  }

  /**
   * Queues a message for the node; a request that cannot go is answered here with an error
   * code. A withdrawal (core/stub.ts) is answered here: 200 when the request it names never
   * went on a socket (taken out), 409 when it did, 404 when it is not held.
   */
  send(conversation: Member, msg: Message, wired = false): void {
    if (this.#state === 'closed') return;
    const s = this.#settings!;
    const withdrawn = withdrawnId(msg);
    if (withdrawn !== undefined) return this.#withdraw(conversation, msg, withdrawn);
    conversation.peers.add(msg.to);
    if (msg.from.startsWith('hyperty://')) this.#claim(conversation, msg.from);
    if (this.#state === 'failed') return answer(conversation.ctx, msg, 503, this.#session.failure!.detail);
    const frame = `{"t":"msg","m":${JSON.stringify(msg)}}`;
    if (frame.length * 3 > s.maxFrameBytes && utf8Length(frame) > s.maxFrameBytes) {
      return answer(conversation.ctx, msg, 413, `message ${msg.id} is over ${s.maxFrameBytes} bytes framed`);
    }
    if (this.#outbox.size >= s.maxQueued) {
      return answer(conversation.ctx, msg, 503, `${s.maxQueued} messages are waiting for the node already`);
    }
    const entry: Pending = { msg, frame, conversation, wired, onWire: false };
    if (msg.type === 'response' && (msg.body.code as number) >= 200) this.#answers.add(msg.to, msg.id, frame);
    this.#outbox.push(entry);
    this.#flush();
  }

  #withdraw(conversation: Member, msg: Message, id: string): void {
    const entry = this.#outbox.entries.find((e) => e.msg.id === id && e.conversation === conversation);
    if (!entry) return answer(conversation.ctx, msg, 404, `${id} is not held`);
    if (entry.wired) return answer(conversation.ctx, msg, 409, `${id} was sent already`);
    this.#outbox.take(id);
    answer(conversation.ctx, msg, 200, `${id} withdrawn`);
  }

  /** A conversation ended: the connection closes with the last, or moves to the oldest one left. */
  leave(conversation: Member): void {
    if (!this.#session.leave(conversation)) return;
    for (const [id, e] of this.#awaiting) if (e.conversation === conversation) this.#awaiting.delete(id);
    if (this.#session.members.length === 0) this.#close();
  }

  #connect(): void {
    const ctx = this.#session.owner;
    const { url, connectTimeoutMs } = this.#settings!;
    const token = ctx.identity.token;
    if (!token) return this.#fail(`no identity token for ${ctx.identity.address}`, 'PF_ERR_AUTH');
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    this.#state = 'connecting';
    this.#session.broadcast('connecting');
    const hyperties = this.#hyperties.size ? [...this.#hyperties] : undefined;
    this.#arrived = 0;
    this.#taken = 0;
    this.#told = 0;
    this.#pinging = false;
    this.#refusal = undefined;
    // What the host said before closing: a socket it refused, why.
    let error: string | undefined;
    try {
      const socket = ctx.connect(url, [PROTOCOL], {
        onOpen: () => {
          // Receipts: what the node sent that this side never took is held for us again.
          const auth = { t: 'auth', token, hyperties, receipts: true };
          if (current()) this.#trySend(socket, JSON.stringify(auth));
        },
        onMessage: (data) => this.#onData(data, current()),
        onClose: (code, reason) => {
          if (current()) this.#lost(`closed ${code}${reason ? ` ${reason}` : ''}`, code, reason, error);
        },
        // The close that follows says what happens next.
        onError: (message) => {
          error = message;
          ctx.log.debug('json-ws socket error', { url, message });
        },
      });
      this.#socket = socket;
    } catch (err) {
      // The sandbox's own check of the URL (the endpoint allow-list) throws at once.
      return this.#fail(
        `cannot connect to ${url}: ${(err as Error).message}`,
        (err as { code?: string }).code,
      );
    }
    this.#arm(
      'connect',
      () => current() && this.#lost(`no ready within ${connectTimeoutMs} ms`),
      connectTimeoutMs,
    );
  }

  #onData(data: string, current: boolean): void {
    if (current) {
      this.#heard = true;
      // The answer to a ping: the next one is due an interval from now, not from the deadline.
      if (this.#pinging) this.#beat();
    }
    const frame = readServerFrame(data);
    if (!('t' in frame)) {
      this.#session.owner.log.warn('json-ws: refused a frame from the node', {
        code: 'PF_ERR_FRAME',
        why: frame.why,
        refused: ++this.#refusedFrames,
        data: data.slice(0, 80),
      });
      // The node numbers it all the same: it is taken (refused for good), in its turn.
      if (frame.msg && current) this.#receive(undefined);
      return;
    }
    // Messages count from any socket, even one being replaced (the dedup drops repeats);
    // acknowledgements only from the current one, whose window they account for.
    if (frame.t === 'msg') return this.#receive(frame.m, current);
    if (!current) return;
    if (frame.t === 'ack') {
      for (const id of frame.ids) this.#acknowledged(this.#outbox.settle(id));
      if (this.#probing) {
        this.#probing = false;
        this.#retryPause.reset();
      }
      this.#flush();
    } else if (frame.t === 'err') {
      this.#refused(frame);
    } else if (frame.t === 'ready' && this.#state === 'connecting') {
      // The node binds the socket to the token's user: another than ours is a wrong token, or a
      // node that lies; either way, nothing of ours may go out as someone else.
      const ours = this.#session.owner.identity.address;
      if (frame.address !== ours) {
        this.#generation++;
        this.#closeSocket();
        return this.#fail(`the node took this connection for ${frame.address}, not ${ours}`, 'PF_ERR_AUTH');
      }
      this.#disarm('connect');
      this.#state = 'live';
      this.#backoff.reset();
      this.#session.broadcast('live');
      this.#flush();
      this.#beat();
    }
  }

  /**
   * The liveness check, every `pingIntervalMs`: quiet since the last one, the node gets a ping;
   * still quiet `pingTimeoutMs` after it, the socket is given up. A flag per frame, a timer per
   * interval: nothing per message.
   */
  #beat(): void {
    const { pingIntervalMs, pingTimeoutMs } = this.#settings!;
    if (pingIntervalMs === 0) return;
    if (this.#heard) {
      this.#heard = false;
      this.#pinging = false;
      return this.#arm('ping', () => this.#beat(), pingIntervalMs);
    }
    if (this.#pinging) return this.#lost(`no answer to a ping within ${pingTimeoutMs} ms`);
    this.#pinging = true;
    // A ping the host could not take now is as good as lost: the deadline says what follows.
    this.#trySend(this.#socket!, '{"t":"ping"}');
    this.#arm('ping', () => this.#beat(), pingTimeoutMs);
  }

  /** The `msg` frame numbered `n` on the current socket is taken: the node hears of it soon, with others. */
  #took(n: number): void {
    this.#taken = n;
    if (n - this.#told >= RECEIPT_EVERY) this.#tell();
    else if (!this.#timers.has('receipt')) this.#arm('receipt', () => this.#tell(), RECEIPT_DELAY_MS);
  }

  /** Tells the node how many `msg` frames this connection took; tries again when the host is busy. */
  #tell(): void {
    this.#disarm('receipt');
    if (this.#taken === this.#told || !this.#socket) return;
    if (!this.#trySend(this.#socket, `{"t":"received","n":${this.#taken}}`)) {
      return this.#arm('receipt', () => this.#tell(), BUSY_RETRY_MS);
    }
    this.#told = this.#taken;
  }

  /** Sends what the window allows; when the host cannot take more now, tries again shortly. */
  #flush(): void {
    if (this.#state !== 'live' || this.#timers.has('flush')) return;
    if (this.#backingOff) {
      if (this.#outbox.inFlight > 0) return;
      this.#backingOff = false;
    }
    const socket = this.#socket!;
    const window = this.#probing ? 1 : this.#settings!.windowSize;
    for (let e = this.#outbox.next(window); e; e = this.#outbox.next(window)) {
      if (!this.#trySend(socket, e.frame)) return this.#arm('flush', () => this.#flush(), BUSY_RETRY_MS);
      e.wired = true;
      this.#outbox.sent();
    }
  }

  #trySend(socket: StubSocket, frame: string): boolean {
    try {
      socket.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The node has `entry`. A request to a peer waits for the peer's final answer (the node's own
   * addresses answer nothing beyond the `ack`); the oldest stop waiting past `dedupWindow`.
   */
  #acknowledged(entry: Pending | undefined): void {
    if (!entry || entry.answered || entry.msg.type === 'response' || entry.msg.to.startsWith('domain://'))
      return;
    if (this.#awaiting.size >= this.#settings!.dedupWindow) {
      this.#awaiting.delete(this.#awaiting.keys().next().value!);
    }
    this.#awaiting.set(entry.msg.id, entry);
  }

  /** `m` is a final answer: the request it answers, from the peer it went to, waits no more. */
  #answered(m: Message): void {
    const waiting = this.#awaiting.get(m.id);
    if (waiting) {
      if (waiting.msg.to === m.from) this.#awaiting.delete(m.id);
      return;
    }
    // Answered before the node's `ack` of it came (acks are batched), or while it waits to go
    // again (a socket was lost): on the wire it waits for nothing; not on it, it need not go.
    const onWire = this.#outbox.onWire(m.id);
    if (onWire) {
      if (onWire.msg.to === m.from) onWire.answered = true;
      return;
    }
    if (this.#outbox.entries.some((e) => e.msg.id === m.id && e.msg.to === m.from && !e.refused))
      this.#outbox.take(m.id);
  }

  /**
   * The node refused a message. To be sent again (a retryable code: its rate, a store failing
   * over): it goes again in its place, after a pause and after every message on the wire was
   * answered (the node refuses the rest of a run too, and those go again after it). Anything
   * else: the app is answered.
   */
  #refused(frame: ErrFrame): void {
    const back = isRetryable(frame.code) && frame.id !== undefined && this.#outbox.giveBack(frame.id);
    if (back) {
      back.refused = true;
      this.#probing = true;
      if (this.#backingOff) return this.#flush();
      this.#backingOff = true;
      return this.#arm('flush', () => this.#flush(), this.#retryPause.next());
    }
    if (frame.id === undefined)
      this.#refusal = { code: frame.code, message: frame.message.slice(0, MAX_REFUSAL) };
    const entry = frame.id === undefined ? undefined : this.#outbox.settle(frame.id);
    if (!entry) return this.#session.owner.log.warn(`json-ws: the node refused: ${frame.code}`, frame);
    // The app gets the code's response code (core/errors.ts), and the code in the description.
    answer(entry.conversation.ctx, entry.msg, statusOf(frame.code), `${frame.code}: ${frame.message}`);
    this.#flush();
  }

  /**
   * Queues a received message (none: a malformed `msg` frame) for the runtime, numbered when it
   * came on the current socket. Past `maxQueued` the runtime is not keeping up: the socket is
   * given up untold, so the node holds the rest again for the next one.
   */
  #receive(m: Message | undefined, current = true): void {
    // A final answer from the peer the request went to: it needs no resending.
    if (m?.type === 'response' && (m.body.code as number) >= 200) this.#answered(m);
    const n = current ? ++this.#arrived : 0;
    // Nothing waiting before it (the usual case): handed on now, with nothing queued.
    if (this.#inbox.length === 0 && this.#take(m, this.#generation, n)) return;
    if (this.#inbox.length >= this.#settings!.maxQueued) {
      if (current) this.#lost(`the runtime has not taken ${this.#inbox.length} messages`);
      return;
    }
    this.#inbox.push({ m, generation: this.#generation, n });
    if (this.#inbox.length === 1) this.#arm('inbox', () => this.#drainInbox(), BUSY_RETRY_MS);
  }

  /** Hands received messages to the runtime in order; waits when it is busy. */
  #drainInbox(): void {
    for (let next = this.#inbox[0]; next; next = this.#inbox[0]) {
      if (!this.#take(next.m, next.generation, next.n)) {
        return this.#arm('inbox', () => this.#drainInbox(), BUSY_RETRY_MS);
      }
      this.#inbox.shift();
    }
  }

  /**
   * Hands `m` (none: a malformed `msg` frame) to the runtime unless it is a repeat, and counts it
   * taken; false, and nothing changed, when the runtime is busy and it should be tried again.
   */
  #take(m: Message | undefined, generation: number, n: number): boolean {
    if (m !== undefined && !this.#seen.has(m)) {
      if (!this.#deliver(m)) return false;
      this.#seen.add(m);
    } else if (m !== undefined && m.type !== 'response') {
      this.#answerAgain(m);
    }
    if (generation === this.#generation && n > 0) this.#took(n);
    return true;
  }

  /**
   * A request seen before came again: its sender lost our answer (with a node that went down)
   * and sent it again. The answer goes again, if it was given and is not still on its way.
   */
  #answerAgain(m: Message): void {
    const frame = this.#answers.get(m.from, m.id);
    if (frame === undefined || this.#outbox.entries.some((e) => e.frame === frame)) return;
    const members = this.#session.members;
    const conversation = members.find((c) => c.peers.has(m.from)) ?? members[0];
    if (!conversation) return;
    const msg = (JSON.parse(frame) as MsgFrame).m;
    this.#outbox.push({ msg, frame, conversation, wired: true, onWire: false });
    this.#flush();
  }

  /**
   * Gives `m` to the conversation that talks to its sender, else to any that takes it (an
   * incoming conversation). False when the runtime is busy and `m` should be tried again.
   */
  #deliver(m: Message): boolean {
    const conversations = this.#session.members;
    const first = conversations.find((c) => c.peers.has(m.from)) ?? conversations[0];
    let outcome = first ? offer(first.ctx, m) : 'refused';
    for (let i = 0; outcome === 'refused' && i < conversations.length; i++) {
      const c = conversations[i]!;
      if (c !== first) outcome = offer(c.ctx, m);
    }
    if (outcome === 'refused') {
      this.#session.owner.log.warn('json-ws: no conversation took a message', {
        id: m.id,
        from: m.from,
        to: m.to,
      });
    }
    return outcome !== 'busy';
  }

  /** The socket is gone (closed, or no `ready` in time): reconnect later, unless refused for good. */
  #lost(detail: string, code?: number, reason?: string, error?: string): void {
    this.#generation++;
    this.#disarm('connect');
    this.#disarm('flush');
    this.#disarm('receipt');
    this.#disarm('ping');
    this.#closeSocket();
    // Answers lost with the node are asked for again: the requests go first, in their order.
    this.#outbox.rewind([...this.#awaiting.values()]);
    this.#awaiting.clear();
    // A new socket is a new session at the node: no run of refusals waits there.
    this.#backingOff = false;
    this.#probing = false;
    this.#retryPause.reset();
    // The runtime refused the socket (its policy, a certificate it does not trust): it would again.
    const refused = code === undefined ? undefined : runtimeRefusal(code, reason ?? '');
    if (refused) return this.#fail(error ?? `${refused}: ${this.#settings!.url} refused`, refused);
    // 44xx: the node refused the token or the domain; the same token will not do better.
    if (code !== undefined && code >= 4400 && code < 4500) {
      // The node gives its error code as the reason: the app gets it (PF_ERR_AUTH, PF_ERR_FORBIDDEN),
      // and what it said before closing names what it refused.
      const refusal = this.#refusal;
      const said = (refusal && refusal.code === reason ? refusal.message : reason) || 'no reason given';
      const who = this.#session.owner.identity.address;
      return this.#fail(`the node refused ${who} (closed ${code}): ${said}`, reason);
    }
    // A node that served this socket and now drains sends us elsewhere: no reason to wait. A
    // socket closed so before it went live waits its turn, so that a client cannot loop on a
    // draining node that still takes connections.
    const delay = code === SERVICE_RESTART && this.#state === 'live' ? 0 : this.#backoff.next();
    this.#state = 'waiting';
    this.#session.broadcast('disconnected', `${detail}; reconnecting in ${delay} ms`);
    this.#arm('connect', () => this.#connect(), delay);
  }

  /** Fails for good, with the code the app gets when the node gave one a stub may pass on. */
  #fail(detail: string, code?: string): void {
    this.#state = 'failed';
    for (const slot of [...this.#timers.keys()]) this.#disarm(slot);
    this.#session.fail(detail, code, () => {
      for (const e of this.#outbox.clear()) answer(e.conversation.ctx, e.msg, 503, detail);
    });
  }

  #close(): void {
    for (const slot of [...this.#timers.keys()]) this.#disarm(slot);
    this.#generation++;
    this.#closeSocket();
    this.#state = 'closed';
    this.#outbox.clear();
    this.#awaiting.clear();
    this.#session.close();
  }

  #closeSocket(): void {
    try {
      this.#socket?.close(1000);
    } catch {
      // Already closed.
    }
    this.#socket = undefined;
  }

  #arm(slot: Slot, fn: () => void, ms: number): void {
    this.#disarm(slot);
    const id = this.#session.setTimeout(() => {
      this.#timers.delete(slot);
      fn();
    }, ms);
    this.#timers.set(slot, id);
  }

  #disarm(slot: Slot): void {
    const id = this.#timers.get(slot);
    if (id === undefined) return;
    this.#session.clearTimeout(id);
    this.#timers.delete(slot);
  }
}

/** UTF-8 length of a string, for the frame limit (the socket counts bytes, JavaScript counts UTF-16 units). */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // +1 for 2-byte and each surrogate half (a pair is 4 bytes), +2 for the rest of the BMP.
    if (c > 0x7f) n += c > 0x7ff && (c < 0xd800 || c > 0xdfff) ? 2 : 1;
  }
  return n;
}
