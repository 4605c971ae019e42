import type { WebSocket } from 'ws';
import { TokenBucket } from '../token-bucket.js';
import { ackFrame } from './frames.js';

/**
 * One client connection, and once it has authenticated, the user it speaks for: its verified
 * address and the hyperty addresses bound to it.
 */
export class Session {
  /** The verified user address; undefined until the `auth` frame verified. */
  address: string | undefined;
  /** The domain of `address`: the only domain whose hyperty addresses this session may claim. */
  userDomain: string | undefined;
  /** A verification is under way. */
  authenticating = false;
  readonly hyperties = new Set<string>();
  /** Answered the last ping (or is new). */
  alive = true;
  readonly bucket: TokenBucket;
  #acks: string[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly ws: WebSocket,
    rate: number,
    burst: number,
    readonly ackDelayMs: number,
  ) {
    this.bucket = new TokenBucket(rate, burst);
  }

  /** Binds the session to its verified user address. */
  bind(address: string): void {
    this.address = address;
    this.userDomain = address.slice('user://'.length, address.indexOf('/', 'user://'.length));
  }

  /**
   * Acknowledges message `id` within `ackDelayMs`, together with the others of that time: one
   * write per batch instead of one per message, and none on the path of a quick reply.
   */
  ack(id: string): void {
    if (this.#acks.push(id) === 1) this.#ackTimer = setTimeout(this.flushAcks, this.ackDelayMs);
  }

  /**
   * Sends the pending acknowledgements now: before an error frame (answers stay in order) and
   * before a shutdown. A closed socket's are dropped; its client resends those messages.
   */
  readonly flushAcks = (): void => {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    if (this.#acks.length === 0) return;
    if (this.ws.readyState === this.ws.OPEN) this.send(ackFrame(this.#acks));
    this.#acks = [];
  };

  /** Sends a frame built once for many sessions (a Buffer) or for this one (a string), as text. */
  send(frame: Buffer | string): void {
    this.ws.send(frame, { binary: false });
  }
}
