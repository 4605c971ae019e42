import { Backoff } from '../../../../core/backoff.js';
import { type ErrorCode, isProtoflyError } from '../../../../core/errors.js';
import type { StubContext, StubSocket } from '../../../../core/stub.js';
import { refusedForGood, runtimeRefusal } from '../../../../core/stub-kit/refusal.js';
import type { SipWsSettings } from '../config.js';
import { parse, type SipMessage, serialize } from '../message/index.js';
import type { Timer, TimerQueue } from '../timers/timer-queue.js';
import { randomToken } from '../user-agent-core/identifiers.js';

/** RFC 7118 §4.1: the WebSocket subprotocol a SIP client asks for and the server must choose. */
export const SUBPROTOCOL = 'sip';
/** RFC 5626 §4.4.1: a keep-alive ping is a double CRLF, its pong a single CRLF. */
const PING = '\r\n\r\n';
const PONG = '\r\n';
/** RFC 5626 §4.4.1: a pong is due within 10 seconds. */
const PONG_TIMEOUT_MS = 10_000;

/** What the transport tells its user agent. */
export interface TransportDelegate {
  /** A socket is open and speaks SIP. */
  onConnected(): void;
  /** A SIP message arrived (malformed ones are logged and dropped here). */
  onMessage(message: SipMessage): void;
  /** The socket is gone; the transport connects again after `delayMs`. */
  onDisconnected(detail: string, delayMs: number): void;
  /** The runtime refused the socket for good ({@link runtimeRefusal}): the transport is closed. */
  onRefused(detail: string, code: ErrorCode): void;
}

/**
 * SIP over one WebSocket (RFC 7118): one SIP message per text frame (§4.2), reconnection with
 * a jittered exponential backoff, and RFC 5626 §4.4.1 CRLF keep-alive. A pong is awaited only
 * once the server has answered one ping: a server that never answers pings is not cut off.
 *
 * The host owns the real socket; `ctx.connect` checks the URL against the descriptor's
 * endpoint allow-list. `owner` is whichever conversation's context is current.
 */
export class Transport {
  /** RFC 7118 §5.2: the Via sent-by and Contact host, an unresolvable `.invalid` name. */
  readonly host = `${randomToken(12)}.invalid`;
  /** RFC 7118 §5.2 / §7: `WS` or `WSS` in Via, as the URL is `ws://` or `wss://`. */
  readonly viaTransport: 'WS' | 'WSS';
  readonly #settings: SipWsSettings;
  readonly #owner: () => StubContext;
  readonly #timers: TimerQueue;
  readonly #delegate: TransportDelegate;
  readonly #backoff: Backoff;
  #socket: StubSocket | undefined;
  #open = false;
  #closed = false;
  /** Bumped per socket so that a late event of an old one changes nothing. */
  #generation = 0;
  #reconnect: Timer | undefined;
  #keepAlive: Timer | undefined;
  #pongDue: Timer | undefined;
  #answersPings = false;

  constructor(
    settings: SipWsSettings,
    owner: () => StubContext,
    timers: TimerQueue,
    delegate: TransportDelegate,
  ) {
    this.#settings = settings;
    this.#owner = owner;
    this.#timers = timers;
    this.#delegate = delegate;
    this.viaTransport = settings.url.startsWith('wss:') ? 'WSS' : 'WS';
    const ctx = owner();
    this.#backoff = new Backoff(
      settings.reconnectDelayMs,
      settings.reconnectDelayMaxMs,
      settings.randomizationFactor,
      `${ctx.domain} ${ctx.identity.address}`,
    );
  }

  /** True while a socket is open. */
  get connected(): boolean {
    return this.#open;
  }

  /** Opens a socket (the first, or the next after a loss). */
  connect(): void {
    if (this.#closed) return;
    this.#reconnect?.cancel();
    const generation = ++this.#generation;
    const current = () => generation === this.#generation;
    const url = this.#settings.url;
    /** What the host said before a close: its refusal's message, when it refused. */
    let error: string | undefined;
    try {
      this.#socket = this.#owner().connect(url, [SUBPROTOCOL], {
        onOpen: (protocol) => {
          if (!current()) return;
          // RFC 7118 §4.1: a server that did not pick "sip" does not speak it here.
          if (protocol !== SUBPROTOCOL)
            return this.#lost(`${url} chose subprotocol '${protocol}', not 'sip'`);
          this.#open = true;
          this.#answersPings = false;
          this.#backoff.reset();
          this.#armKeepAlive();
          this.#delegate.onConnected();
        },
        onMessage: (data) => {
          if (current()) this.#receive(data);
        },
        onClose: (code, reason) => {
          if (!current()) return;
          const refused = runtimeRefusal(code, reason);
          if (refused) return this.#refused(error ?? `${refused}: ${url} refused`, refused);
          this.#lost(`${url} closed ${code}${reason ? ` ${reason}` : ''}`);
        },
        // The close that follows says what happens next.
        onError: (message) => {
          error = message;
          this.#owner().log.debug('sip-ws socket error', { url, message });
        },
      });
    } catch (err) {
      // The sandbox's own check of the URL (the endpoint allow-list) throws at once.
      if (isProtoflyError(err) && refusedForGood(err.code)) return this.#refused(err.message, err.code);
      this.#lost(`cannot connect to ${url}: ${(err as Error).message}`);
    }
  }

  /** Sends `message`; false when no socket is open or the host refused the frame. */
  send(message: SipMessage): boolean {
    if (!this.#open || !this.#socket) return false;
    try {
      const text = serialize(message);
      // A body this stub sends is text; bytes would need a binary frame the socket does not offer.
      if (typeof text !== 'string') return false;
      this.#socket.send(text);
      return true;
    } catch (err) {
      this.#owner().log.warn('sip-ws: a message could not be sent', { error: (err as Error).message });
      return false;
    }
  }

  /** Closes for good: no reconnection. */
  close(): void {
    this.#closed = true;
    this.#drop();
    this.#reconnect?.cancel();
  }

  #receive(data: string): void {
    if (data === PONG) {
      this.#answersPings = true;
      this.#pongDue?.cancel();
      return;
    }
    if (data === PING) {
      this.#sendRaw(PONG);
      return;
    }
    let message: SipMessage;
    try {
      message = parse(data);
    } catch (err) {
      // RFC 3261 §18.3 / §16.3: a message that cannot be parsed is discarded; nothing in it can be trusted to answer.
      const why = isProtoflyError(err) ? err.message : String(err);
      this.#owner().log.warn('sip-ws: dropped a malformed SIP message', {
        error: why,
        data: data.slice(0, 120),
      });
      return;
    }
    this.#delegate.onMessage(message);
  }

  #armKeepAlive(): void {
    const every = this.#settings.keepAliveMs;
    if (every <= 0) return;
    this.#keepAlive = this.#timers.after(every, () => {
      if (!this.#open) return;
      this.#sendRaw(PING);
      if (this.#answersPings) {
        this.#pongDue = this.#timers.after(PONG_TIMEOUT_MS, () =>
          this.#lost(`no keep-alive pong within ${PONG_TIMEOUT_MS} ms`),
        );
      }
      this.#armKeepAlive();
    });
  }

  #sendRaw(text: string): void {
    try {
      this.#socket?.send(text);
    } catch {
      // The socket is closing; its close event follows.
    }
  }

  /** The socket is gone: tell the user agent, and connect again after a backoff delay. */
  #lost(detail: string): void {
    if (this.#closed) return;
    this.#drop();
    const delay = this.#backoff.next();
    this.#delegate.onDisconnected(detail, delay);
    this.#reconnect = this.#timers.after(delay, () => this.connect());
  }

  /** The runtime will not let this socket be: no reconnection. */
  #refused(detail: string, code: ErrorCode): void {
    if (this.#closed) return;
    this.close();
    this.#delegate.onRefused(detail, code);
  }

  #drop(): void {
    this.#generation++;
    this.#open = false;
    this.#keepAlive?.cancel();
    this.#pongDue?.cancel();
    try {
      this.#socket?.close(1000);
    } catch {
      // Already closed.
    }
    this.#socket = undefined;
  }
}
