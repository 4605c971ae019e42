import { Credit } from './credit.js';
import type { HostSocket } from './sockets.js';

/**
 * The host side of what a stub's instances share per (package, domain, identity): their
 * credit in both directions and the sockets the host holds for them. It lives while one of
 * its conversations does; its sockets close with it.
 */
export class HostSession {
  /** Conversations using the session. */
  refs = 0;
  /** Host → worker frames. */
  readonly out: Credit;
  /** Worker → host frames, acknowledged as processed. */
  readonly in: Credit;
  readonly sockets = new Map<number, HostSocket>();
  /** Its sockets are paused because the stub has a full window of socket data to take. */
  paused = false;

  constructor(
    readonly id: number,
    readonly key: string,
    windowBytes: number,
  ) {
    this.out = new Credit(windowBytes);
    this.in = new Credit(windowBytes);
  }

  /**
   * Pauses the session's sockets when the stub has more than a window of socket data it has
   * not taken yet, and resumes them once it is down to half (the hysteresis keeps a busy
   * socket from flapping).
   */
  flow(): void {
    const { inFlight, windowBytes } = this.out;
    if (!this.paused && inFlight > windowBytes) {
      this.paused = true;
      for (const socket of this.sockets.values()) socket.pause();
    } else if (this.paused && inFlight * 2 < windowBytes) {
      this.paused = false;
      for (const socket of this.sockets.values()) socket.resume();
    }
  }
}
