import { Credit } from './credit.js';

/**
 * The host side of a stub session (what a stub's instances share per package, domain and
 * identity; `ctx.session` is the stub's side of it): its number on the channel and its credit
 * in both directions. It lives while one of its instances does; the socket bridge holds its
 * sockets and closes them with it.
 */
export class HostSession {
  /** Instances using the session. */
  refs = 0;
  /** Host → worker frames. */
  readonly out: Credit;
  /** Worker → host frames, acknowledged as processed. */
  readonly in: Credit;

  constructor(
    readonly id: number,
    readonly key: string,
    windowBytes: number,
  ) {
    this.out = new Credit(windowBytes);
    this.in = new Credit(windowBytes);
  }
}
