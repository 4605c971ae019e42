import type { WebSocket } from 'ws';
import { TokenBucket } from '../token-bucket.js';

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

  constructor(
    readonly ws: WebSocket,
    rate: number,
    burst: number,
  ) {
    this.bucket = new TokenBucket(rate, burst);
  }

  /** Binds the session to its verified user address. */
  bind(address: string): void {
    this.address = address;
    this.userDomain = address.slice('user://'.length, address.indexOf('/', 'user://'.length));
  }

  /** Sends a frame built once for many sessions (a Buffer) or for this one (a string), as text. */
  send(frame: Buffer | string): void {
    this.ws.send(frame, { binary: false });
  }
}
