import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { closeCodeOf, type ErrorCode } from '../../core/errors.js';
import { batchWrites } from '../../node/write-batch.js';
import type { Frame, Taken } from '../services/service.js';
import { TokenBucket } from '../services/token-bucket.js';
import { ackFrame } from './frames.js';
import { SendOrder } from './send-order.js';

/** What one connection may send: messages a second (and at once above that), and bytes a second. */
export interface SessionLimits {
  readonly messagesPerSecond: number;
  readonly burst: number;
  readonly bytesPerSecond: number;
}

/** A `msg` frame for a client, and whom to tell once it is safe when another node waits to confirm it. */
export interface Untaken {
  readonly frame: Frame;
  readonly taken?: Taken | undefined;
}

/**
 * One client connection to the node, and once it has authenticated, the user it speaks for: its
 * verified address, its id in the domain's Location service (the `session` of its
 * Bindings), and the hyperty addresses it holds. Named apart from a stub's `ctx.session`
 * and the sandbox's HostSession/WorkerSession; "session" is kept because Location, the
 * metrics (`sessions_failed_total`) and the node's contract already call it that.
 *
 * Its state is its own, read from outside through getters and changed through its methods;
 * what a part of the node keeps per session lives in that part (admission's pending count,
 * groups' memberships) or in an object only that part uses (routing's `order`).
 */
export class ClientSession {
  #address: string | undefined;
  #userDomain: string | undefined;
  #since = 0;
  readonly #hyperties = new Set<string>();
  /** Its messages' rate. */
  readonly bucket: TokenBucket;
  /** The bytes it sends (see {@link read}), and the timer that resumes reading once they are repaid. */
  readonly #reading: TokenBucket;
  #resume: ReturnType<typeof setTimeout> | undefined;
  /** Routing's: what keeps this session's messages in the order sent. */
  readonly order = new SendOrder();
  /** Answered the last ping (or is new). */
  #alive = true;
  /** Frames for this session that arrived while held ones were being taken out; sent after them. */
  #deferred: Untaken[] | undefined;
  /** Takings-out of held frames under way. */
  #catchingUp = 0;
  /** Handling one of its frames failed: it is being closed. */
  #failed = false;
  /**
   * With receipts on (the client asked in `auth`): the `msg` frames sent that the client has
   * not yet said it took, oldest first, and how many it has said it took.
   */
  #unreceived: Frame[] | undefined;
  #received = 0;
  /**
   * Of those, the ones another node delivered and waits to confirm (see ClusterMember.deliver):
   * each one's number on this connection (counting from 1) and whom to tell, oldest first.
   */
  readonly #takers: { readonly n: number; readonly taken: Taken }[] = [];
  #acks: string[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Contains a failure in handling this session's frames, the first time: the end of every
   * promise chain a frame of it starts, made once per session so the message path allocates none.
   */
  readonly fail: (err: unknown) => void;

  constructor(
    readonly ws: WebSocket,
    /** The connection under `ws`, whose writes of one event-loop turn are sent together. */
    readonly socket: Socket,
    /** Unique in the domain: the node's id and a counter. */
    readonly id: string,
    limits: SessionLimits,
    readonly ackDelayMs: number,
    /** Milliseconds a socket the node closed has to finish the closing handshake before it is cut. */
    readonly closeGraceMs: number,
    /** Contains a failure in handling this session's frames; called once per session. */
    contain: (session: ClientSession, err: unknown) => void,
  ) {
    this.bucket = new TokenBucket(limits.messagesPerSecond, limits.burst);
    this.#reading = new TokenBucket(limits.bytesPerSecond, 2 * limits.bytesPerSecond);
    this.fail = (err) => {
      if (this.#failed) return;
      this.#failed = true;
      contain(this, err);
    };
    ws.on('pong', () => {
      this.#alive = true;
    });
  }

  /**
   * A frame of `bytes` came from the client. Past its byte budget the socket is not read until
   * the budget is repaid: what the client sends meanwhile waits in TCP (back-pressure), nothing
   * dropped or reordered, and the work its frames make (parsing costs up to ~0.1 µs a byte in
   * arrays of small values) takes a bounded share of the node. True when it paused reading.
   */
  read(bytes: number): boolean {
    const wait = this.#reading.charge(bytes);
    if (wait === 0 || this.#resume) return false;
    this.ws.pause();
    this.#resume = setTimeout(() => {
      this.#resume = undefined;
      this.ws.resume();
    }, Math.ceil(wait));
    return true;
  }

  /** It closed: no reading to resume. */
  closed(): void {
    clearTimeout(this.#resume);
    this.#resume = undefined;
  }

  /** The verified user address; undefined until the `auth` frame verified. */
  get address(): string | undefined {
    return this.#address;
  }

  /** The domain of `address`: the only domain whose hyperty addresses this session may claim. */
  get userDomain(): string | undefined {
    return this.#userDomain;
  }

  /** When it authenticated, in milliseconds since the epoch: the newest session gets a hyperty's messages. */
  get since(): number {
    return this.#since;
  }

  /** The hyperty addresses it holds. */
  get hyperties(): ReadonlySet<string> {
    return this.#hyperties;
  }

  /** Binds the session to its verified user address. */
  bind(address: string, receipts: boolean): void {
    this.#address = address;
    this.#userDomain = address.slice('user://'.length, address.indexOf('/', 'user://'.length));
    this.#since = Date.now();
    if (receipts) this.#unreceived = [];
  }

  /** It now holds hyperty address `h` (Location granted it). */
  addHyperty(h: string): void {
    this.#hyperties.add(h);
  }

  /** Whether frames can still be written to the client. */
  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  /**
   * Closes for error `code`, with that code's close code (core/errors.ts) and `reason`, and cuts
   * the socket if the peer does not finish closing soon.
   */
  cut(code: ErrorCode, reason: string = code): void {
    this.ws.close(closeCodeOf(code), reason);
    setTimeout(() => this.ws.terminate(), this.closeGraceMs).unref();
  }

  /** The heartbeat: pings the peer, unless it did not answer the last ping (then false). */
  beat(): boolean {
    if (!this.#alive) return false;
    this.#alive = false;
    this.ws.ping();
    return true;
  }

  /**
   * Acknowledges message `id` within `ackDelayMs`, together with the others of that time: one
   * write per batch instead of one per message, and none on the path of a quick reply.
   */
  ack(id: string): void {
    if (this.#acks.push(id) === 1) this.#ackTimer = setTimeout(this.#flushLater, this.ackDelayMs);
  }

  /** The ack timer's task: like every task of this session's, it fails alone. */
  readonly #flushLater = (): void => {
    try {
      this.flushAcks();
    } catch (err) {
      this.fail(err);
    }
  };

  /**
   * Sends the pending acknowledgements now: before an error frame (answers stay in order) and
   * before a shutdown. A closed socket's are dropped; its client resends those messages.
   */
  readonly flushAcks = (): void => {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#acks.length === 0) return;
    if (this.open) this.send(ackFrame(this.#acks));
    this.#acks = [];
  };

  /** Sends a frame built once for many sessions (bytes) or for this one (a string), as text. */
  send(frame: Frame): void {
    batchWrites(this.socket);
    this.ws.send(frame, { binary: false });
  }

  /**
   * Delivers a message frame: now, or after the held frames being taken out for this session;
   * `taken` is told once it is safe (see {@link sendMsg}).
   */
  deliver(frame: Frame, taken?: Taken): void {
    if (this.#deferred) this.#deferred.push({ frame, taken });
    else this.sendMsg(frame, taken);
  }

  /**
   * Sends a `msg` frame. With receipts on, it is kept until the client says it took it, and
   * `taken` is told then; without, `taken` is told once it is written.
   */
  sendMsg(frame: Frame, taken?: Taken): void {
    const unreceived = this.#unreceived;
    this.send(frame);
    if (!unreceived) return taken?.(true);
    unreceived.push(frame);
    if (taken) this.#takers.push({ n: this.#received + unreceived.length, taken });
  }

  /** Held frames are being taken out for it: what is delivered meanwhile waits behind them. */
  catchUp(): void {
    this.#catchingUp++;
    this.#deferred ??= [];
  }

  /**
   * A taking-out of held frames ended. When it was the last, returns the frames that waited
   * behind it, which the session no longer keeps; else undefined.
   */
  caughtUp(): Untaken[] | undefined {
    if (--this.#catchingUp > 0) return;
    const deferred = this.#deferred ?? [];
    this.#deferred = undefined;
    return deferred;
  }

  /** With receipts on, the `msg` frames sent that the client has not said it took; else undefined. */
  get unreceived(): readonly Frame[] | undefined {
    return this.#unreceived;
  }

  /** How many `msg` frames the client has said it took. */
  get received(): number {
    return this.#received;
  }

  /**
   * The `msg` frames the client has not said it took, which this session now forgets, each with
   * whom to tell once it is held again.
   */
  takeUnreceived(): Untaken[] {
    const frames = this.#unreceived ?? [];
    this.#unreceived = undefined;
    const takers = new Map(this.#takers.splice(0).map(({ n, taken }) => [n, taken]));
    const first = this.#received + 1;
    return frames.map((frame, i) => ({ frame, taken: takers.get(first + i) }));
  }

  /**
   * The client took the first `n` `msg` frames of this connection: forgets them.
   *
   * @returns false when `n` goes back, or beyond what was sent (the receipt is refused).
   */
  receipt(n: number): boolean {
    const taken = n - this.#received;
    if (!this.#unreceived || taken < 0 || taken > this.#unreceived.length) return false;
    this.#unreceived.splice(0, taken);
    this.#received = n;
    const takers = this.#takers;
    let told = 0;
    while (told < takers.length && takers[told]!.n <= n) takers[told++]!.taken(true);
    if (told > 0) takers.splice(0, told);
    return true;
  }
}
