import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Frame } from '../../core/service.js';
import { TokenBucket } from '../../core/token-bucket.js';
import { batchWrites } from '../../node/write-batch.js';
import { ackFrame } from './frames.js';

/** A session's messages to one recipient that are still on their way, and where they went. */
export interface Lane {
  /** The sessions they went to (ids, space-separated); empty when held. */
  readonly targets: string;
  /** Settles when a message to the same sessions may be sent. */
  readonly issue: Promise<void>;
  /** Settles when every one of them is delivered, held or refused. */
  readonly settled: Promise<void>;
}

/**
 * One client connection, and once it has authenticated, the user it speaks for: its verified
 * address, its id in the domain's Location service, and the hyperty addresses it holds.
 */
export class Session {
  /** The verified user address; undefined until the `auth` frame verified. */
  address: string | undefined;
  /** The domain of `address`: the only domain whose hyperty addresses this session may claim. */
  userDomain: string | undefined;
  /** When it authenticated, in milliseconds since the epoch: the newest session gets a hyperty's messages. */
  since = 0;
  /** A verification is under way. */
  authenticating = false;
  readonly hyperties = new Set<string>();
  /** Answered the last ping (or is new). */
  alive = true;
  readonly bucket: TokenBucket;
  /**
   * A hyperty address this session sends from being claimed: later messages wait behind it,
   * since whether they may be sent depends on it.
   */
  queue: Promise<void> | undefined;
  /** Per recipient, this session's messages still on their way (see the node's dispatch). */
  readonly lanes = new Map<string, Lane>();
  /** Frames for this session that arrived while held ones were being taken out; sent after them. */
  deferred: Frame[] | undefined;
  /** Takings-out of held frames under way. */
  catchingUp = 0;
  /** The groups this session subscribed to. */
  readonly groups = new Set<string>();
  /**
   * Per recipient, the message of this session refused for its rate: later ones to that
   * recipient are refused too, until this one is sent again, so that retries keep the order.
   */
  refusedTo: Map<string, string> | undefined;
  /** The remote address this connection counts under while it is not yet authenticated. */
  pendingFrom: string | undefined;
  /** Handling one of its frames failed: it is being closed. */
  failed = false;
  /**
   * With receipts on (the client asked in `auth`): the `msg` frames sent that the client has
   * not yet said it took, oldest first, and how many it has said it took.
   */
  unreceived: Frame[] | undefined;
  received = 0;
  #acks: string[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ws: WebSocket,
    /** The connection under `ws`, whose writes of one event-loop turn are sent together. */
    readonly socket: Socket,
    /** Unique in the domain: the node's id and a counter. */
    readonly id: string,
    rate: number,
    burst: number,
    readonly ackDelayMs: number,
    /**
     * Contains a failure in handling this session's frames: the end of every promise chain
     * a frame of it starts, made once per session so the message path allocates none.
     */
    readonly fail: (err: unknown) => void,
  ) {
    this.bucket = new TokenBucket(rate, burst);
  }

  /** Binds the session to its verified user address. */
  bind(address: string): void {
    this.address = address;
    this.userDomain = address.slice('user://'.length, address.indexOf('/', 'user://'.length));
    this.since = Date.now();
  }

  /** Whether frames can still be written to the client. */
  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
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

  /** Delivers a message frame: now, or after the held frames being taken out for this session. */
  deliver(frame: Frame): void {
    if (this.deferred) this.deferred.push(frame);
    else this.sendMsg(frame);
  }

  /** Sends a `msg` frame, kept until the client says it took it when receipts are on. */
  sendMsg(frame: Frame): void {
    this.unreceived?.push(frame);
    this.send(frame);
  }

  /** The `msg` frames the client has not said it took, which this session now forgets. */
  takeUnreceived(): Frame[] {
    const frames = this.unreceived ?? [];
    this.unreceived = undefined;
    return frames;
  }

  /**
   * The client took the first `n` `msg` frames of this connection: forgets them.
   *
   * @returns false when `n` goes back, or beyond what was sent (the receipt is refused).
   */
  receipt(n: number): boolean {
    const taken = n - this.received;
    if (!this.unreceived || taken < 0 || taken > this.unreceived.length) return false;
    this.unreceived.splice(0, taken);
    this.received = n;
    return true;
  }
}
