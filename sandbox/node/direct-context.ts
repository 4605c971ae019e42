import WebSocket from 'ws';
import { ProtoflyError } from '../../core/errors.js';
import type { Message } from '../../core/message.js';
import {
  assertTransition,
  type SocketDelegate,
  type StubContext,
  type StubSession,
  type StubSocket,
  type StubStatus,
} from '../../core/stub.js';

/**
 * A StubContext implemented directly over the `ws` package in the test process: no sandbox,
 * same rules as the real host where a stub can tell (sockets live as long as their session,
 * timers as long as their conversation, status transitions are checked, a dead context throws
 * PF_ERR_CLOSED).
 */

/** What the conversations of one domain and identity share: the store and the sockets. */
export class DirectSession {
  readonly store = new Map<string, unknown>();
  readonly sockets = new Set<WebSocket>();
  /** Sockets ever opened through this session. */
  opened = 0;
  readonly api: StubSession = {
    get: (key) => this.store.get(key),
    set: (key, value) => void this.store.set(key, value),
    delete: (key) => void this.store.delete(key),
  };

  /** Ends the session: closes its sockets. */
  end(): void {
    for (const ws of this.sockets) ws.terminate();
  }
}

export interface DirectContextOptions {
  readonly address: string;
  readonly token?: string;
  readonly config: Readonly<Record<string, unknown>>;
  readonly session: DirectSession;
  readonly domain?: string;
  /**
   * The `from` addresses `send` accepts, exact or as prefixes ending in `/` (the host's
   * ConversationContext.from); anything else throws PF_ERR_SPOOF. Default: any.
   */
  readonly from?: readonly string[];
  /** `ctx.peer`: the conversation's peer; none for an inbox. */
  readonly peer?: string;
  /** `ctx.snapshot`: what another version's instance handed over in a live swap. */
  readonly snapshot?: unknown;
}

/** A StubContext for one conversation, recording what the stub hands the runtime. */
export class DirectContext implements StubContext {
  readonly domain: string;
  readonly identity: { readonly address: string; readonly token?: string };
  readonly peer: string | undefined;
  readonly snapshot: unknown;
  readonly config: Readonly<Record<string, unknown>>;
  readonly session: StubSession;
  /** Every status reported, in order. */
  readonly statuses: StubStatus[] = [];
  /** The code given with `failed`, if any. */
  failedWith: string | undefined;
  /** Every message the stub put on the "bus", in order. */
  readonly received: Message[] = [];
  readonly log = { debug() {}, info() {}, warn() {}, error() {} };
  readonly #session: DirectSession;
  readonly #from: readonly string[] | undefined;
  readonly #timers = new Map<number, ReturnType<typeof setTimeout>>();
  #nextTimer = 1;
  #status: StubStatus = 'created';
  #ended = false;
  #waiters = new Set<() => void>();

  constructor(options: DirectContextOptions) {
    this.domain = options.domain ?? options.address.split('/')[2]!;
    this.identity = { address: options.address, token: options.token };
    this.peer = options.peer;
    this.snapshot = options.snapshot;
    this.config = options.config;
    this.#session = options.session;
    this.#from = options.from;
    this.session = options.session.api;
  }

  send(msg: Message): void {
    this.#assertOpen('send');
    if (
      this.#from &&
      !this.#from.some((a) => msg.from === a || (a.endsWith('/') && msg.from.startsWith(a)))
    ) {
      throw new ProtoflyError('PF_ERR_SPOOF', `ctx.send: this conversation was not given ${msg.from}`);
    }
    this.received.push(msg);
    this.#wake();
  }

  connect(url: string, protocols: readonly string[], delegate: SocketDelegate): StubSocket {
    this.#assertOpen('connect');
    const ws = new WebSocket(url, [...protocols]);
    const session = this.#session;
    session.sockets.add(ws);
    session.opened++;
    // The stub runs on these events and its timers: after each, what `until` waits for may hold.
    ws.on('open', () => this.#then(() => delegate.onOpen?.(ws.protocol)));
    ws.on('message', (data) => this.#then(() => delegate.onMessage(data.toString())));
    ws.on('error', (err) => this.#then(() => delegate.onError?.(err.message)));
    ws.on('close', (code, reason) => {
      session.sockets.delete(ws);
      this.#then(() => delegate.onClose?.(code, reason.toString()));
    });
    return {
      send: (data) => {
        if (ws.readyState !== WebSocket.OPEN)
          throw new ProtoflyError('PF_ERR_CLOSED', `socket to ${url} is not open`);
        ws.send(data);
      },
      close: (code, reason) => ws.close(code, reason),
    };
  }

  status(status: StubStatus, _detail?: string, code?: string): void {
    this.#assertOpen('status');
    assertTransition(this.#status, status);
    this.#status = status;
    this.statuses.push(status);
    if (status === 'failed') this.failedWith = code;
    this.#wake();
  }

  setTimeout(fn: () => void, ms: number): number {
    this.#assertOpen('setTimeout');
    const id = this.#nextTimer++;
    this.#timers.set(
      id,
      setTimeout(() => {
        this.#timers.delete(id);
        this.#then(fn);
      }, ms),
    );
    return id;
  }

  clearTimeout(id: number): void {
    clearTimeout(this.#timers.get(id));
    this.#timers.delete(id);
  }

  setInterval(fn: () => void, ms: number): number {
    this.#assertOpen('setInterval');
    const id = this.#nextTimer++;
    this.#timers.set(
      id,
      setInterval(() => this.#then(fn), ms),
    );
    return id;
  }

  clearInterval(id: number): void {
    this.clearTimeout(id);
  }

  /** What the host does after the stub's stop(): its timers go and the context is dead. */
  end(): void {
    this.#ended = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  /**
   * Resolves once `check()` holds, re-checked whenever the stub sends, reports, or has run on one
   * of its sockets' events or timers; fails after `timeoutMs`.
   */
  until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        reject(new Error(`condition not met in ${timeoutMs} ms; statuses ${this.statuses.join(' → ')}`));
      }, timeoutMs);
      this.#waiters.add(done);
      done();
    });
  }

  /** Runs the stub's handler `fn`, then lets the waiters look at what it changed. */
  #then(fn: () => void): void {
    try {
      fn();
    } finally {
      this.#wake();
    }
  }

  #wake(): void {
    // A Set may lose entries while it is iterated (a waiter met removes itself): no copy per event.
    for (const waiter of this.#waiters) waiter();
  }

  #assertOpen(what: string): void {
    if (this.#ended) throw new ProtoflyError('PF_ERR_CLOSED', `ctx.${what}: the conversation has ended`);
  }
}
