import { ProtoflyError } from '../core/errors.js';
import {
  assertMessage,
  Code,
  isProvisional,
  type Message,
  type ResponseMessage,
  response,
} from '../core/message.js';

/**
 * The message bus: routes messages by address, correlates responses with requests,
 * answers 408 when no final response comes in time, and bounds what it holds.
 *
 * Delivery is asynchronous and in send order (one FIFO for the whole bus), so a
 * listener never runs inside its sender's call stack and a response cannot overtake
 * the messages sent before it.
 */

/** Receives the messages addressed to a route. */
export type Listener = (msg: Message) => void;
/** Receives every response to one request: provisional ones, then one final one. */
export type ResponseHandler = (res: ResponseMessage) => void;

export interface BusOptions {
  /** Milliseconds before the bus answers 408 to a request with no final response. A 1xx resets it. Default 3000. */
  timeoutMs?: number;
  /** Undelivered messages one route may hold before `send` refuses with `PF_ERR_QUEUE_FULL`. Default 10000. */
  queueLimit?: number;
  /** Validate every message against `schemas/message.schema.json`. Default true. */
  validate?: boolean;
  /** Told of failures that have no sender to go to: a listener threw, a message nobody can take, a response refused as spoofed. Default: console.error. */
  onError?: (err: ProtoflyError, msg: Message) => void;
}

/** Where messages for an address (or an address prefix) go. */
class Route {
  listeners: readonly Listener[] = [];
  /** Messages queued for this route and not yet delivered. */
  queued = 0;
  constructor(readonly key: string) {}
}

/** A request waiting for its final response. */
interface Pending {
  readonly key: string;
  readonly request: Message;
  readonly handler: ResponseHandler;
  /** performance.now() after which the bus answers 408. */
  deadline: number;
}

const PREFIX = /^(user|hyperty|runtime|domain):\/\//;
/** Deliveries done in one turn before the bus yields to I/O. */
const BATCH = 4096;
const yieldTurn: (fn: () => void) => void = globalThis.setImmediate ?? ((fn) => setTimeout(fn, 0));

export class Bus {
  readonly #exact = new Map<string, Route>();
  readonly #prefix = new Map<string, Route>();
  // Insertion order is deadline order (one timeout for all, and a 1xx re-inserts), so one
  // timer armed for the oldest entry serves every pending request.
  readonly #pending = new Map<string, Pending>();
  #sweepTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #timeoutMs: number;
  readonly #queueLimit: number;
  readonly #validate: boolean;
  readonly #onError: (err: ProtoflyError, msg: Message) => void;
  // The delivery FIFO: two parallel arrays (message, target) and a read index.
  #messages: Message[] = [];
  #targets: (Route | Pending | undefined)[] = [];
  #head = 0;
  #scheduled = false;
  #closed = false;

  constructor(options: BusOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#queueLimit = options.queueLimit ?? 10_000;
    this.#validate = options.validate ?? true;
    this.#onError = options.onError ?? ((err) => console.error(err.message));
  }

  /** Listens to messages sent to exactly `address`. Returns the function that stops listening. */
  listen(address: string, listener: Listener): () => void {
    return this.#add(this.#exact, address, listener);
  }

  /**
   * Listens to every address that starts with `prefix` and has no exact listener; the
   * longest matching prefix wins. A prefix ends at a `/`: `hyperty://b.example` covers
   * `hyperty://b.example/*`.
   */
  listenPrefix(prefix: string, listener: Listener): () => void {
    if (!PREFIX.test(prefix)) {
      throw new ProtoflyError(
        'PF_ERR_ADDRESS',
        `'${prefix}' is not an address prefix: expected <scheme>://...`,
        {
          address: prefix,
        },
      );
    }
    return this.#add(this.#prefix, prefix.endsWith('/') ? prefix : `${prefix}/`, listener);
  }

  /**
   * Sends a message. Responses to it, if any, go to `onResponse` (see {@link request}).
   *
   * A response settles the request of its `to` and `id` only when its `from` is the request's
   * `to`: whoever answers speaks as the address the request was sent to (a stub answering for
   * its peer, or for its server, does so from the peer's address). Any other response with that
   * id is refused with `PF_ERR_SPOOF` through `onError`, and the request waits on.
   *
   * @throws ProtoflyError `PF_ERR_SCHEMA` for an invalid message, `PF_ERR_QUEUE_FULL`
   *   when its route holds too many undelivered messages, `PF_ERR_CLOSED` after close.
   */
  send(msg: Message, onResponse?: ResponseHandler): void {
    if (this.#closed)
      throw new ProtoflyError('PF_ERR_CLOSED', `bus is closed; message ${msg.id} to ${msg.to} not sent`);
    if (this.#validate) assertMessage(msg);
    if (msg.type === 'response') {
      const pending = this.#pending.get(`${msg.to}\n${msg.id}`);
      if (pending) {
        if (msg.from === pending.request.to) return this.#enqueue(msg, pending);
        // Not from where the request went: refused, and the request waits for the real answer.
        return this.#onError(
          new ProtoflyError(
            'PF_ERR_SPOOF',
            `response ${msg.id} to ${msg.to} came from ${msg.from}, not from ${pending.request.to} where the request went; refused`,
            { id: msg.id, from: msg.from, expected: pending.request.to },
          ),
          msg,
        );
      }
    }
    const route = this.#route(msg.to);
    if (route && route.queued >= this.#queueLimit) {
      throw new ProtoflyError(
        'PF_ERR_QUEUE_FULL',
        `route ${route.key} holds ${route.queued} undelivered messages (queueLimit ${this.#queueLimit}); message ${msg.id} not sent`,
        { route: route.key, queueLimit: this.#queueLimit },
      );
    }
    if (onResponse && msg.type !== 'response') this.#await(msg, onResponse);
    this.#enqueue(msg, route);
  }

  /**
   * Sends a request and resolves with its final response: the recipient's (from the address
   * it was sent to, see {@link send}), or the bus's own 408 after `timeoutMs` without one (each
   * 1xx restarts the wait), or 404 when no listener takes the address.
   */
  request(msg: Message): Promise<ResponseMessage> {
    return new Promise((resolve) => {
      this.send(msg, (res) => {
        if (!isProvisional(res.body.code)) resolve(res);
      });
    });
  }

  /** Stops the bus: pending requests get a final 503 now, further sends throw `PF_ERR_CLOSED`. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending.values()])
      this.#settle(p, response(p.request, Code.UNAVAILABLE, 'bus closed'));
    clearTimeout(this.#sweepTimer);
    this.#exact.clear();
    this.#prefix.clear();
  }

  /** Counts, for metrics and tests. */
  stats(): { routes: number; pending: number; queued: number } {
    return {
      routes: this.#exact.size + this.#prefix.size,
      pending: this.#pending.size,
      queued: this.#messages.length - this.#head,
    };
  }

  #add(table: Map<string, Route>, key: string, listener: Listener): () => void {
    let route = table.get(key);
    if (!route) {
      route = new Route(key);
      table.set(key, route);
    }
    // Copy on write: a delivery in progress keeps iterating the array it started with.
    route.listeners = [...route.listeners, listener];
    const r = route;
    return () => {
      r.listeners = r.listeners.filter((l) => l !== listener);
      if (r.listeners.length === 0 && table.get(key) === r) table.delete(key);
    };
  }

  /** The exact route of `to`, else its longest prefix route. */
  #route(to: string): Route | undefined {
    const exact = this.#exact.get(to);
    if (exact) return exact;
    if (this.#prefix.size === 0) return undefined;
    for (let i = to.lastIndexOf('/'); i > 0; i = to.lastIndexOf('/', i - 1)) {
      const route = this.#prefix.get(to.slice(0, i + 1));
      if (route) return route;
    }
    return undefined;
  }

  #await(msg: Message, handler: ResponseHandler): void {
    const key = `${msg.from}\n${msg.id}`;
    if (this.#pending.has(key)) {
      throw new ProtoflyError(
        'PF_ERR_SCHEMA',
        `message: /id '${msg.id}' from ${msg.from} is already awaiting a response`,
        {
          pointer: '/id',
        },
      );
    }
    const deadline = performance.now() + this.#timeoutMs;
    this.#pending.set(key, { key, request: msg, handler, deadline });
    this.#arm(deadline);
  }

  #arm(deadline: number): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setTimeout(this.#sweep, Math.max(0, deadline - performance.now()));
    // A pending request must not keep a Node process alive on its own.
    (this.#sweepTimer as { unref?: () => void }).unref?.();
  }

  /** Answers 408 to every request past its deadline, oldest first, then waits for the next one. */
  readonly #sweep = (): void => {
    this.#sweepTimer = undefined;
    const now = performance.now();
    for (const p of this.#pending.values()) {
      if (p.deadline > now) return this.#arm(p.deadline);
      this.#settle(p, response(p.request, Code.TIMEOUT, `no final response within ${this.#timeoutMs} ms`));
    }
  };

  #settle(p: Pending, res: ResponseMessage): void {
    this.#pending.delete(p.key);
    this.#call(p.handler, res);
  }

  #enqueue(msg: Message, target: Route | Pending | undefined): void {
    if (target instanceof Route) target.queued++;
    this.#messages.push(msg);
    this.#targets.push(target);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  readonly #drain = (): void => {
    const messages = this.#messages;
    const targets = this.#targets;
    let n = 0;
    while (this.#head < messages.length && n++ < BATCH) {
      const i = this.#head++;
      const msg = messages[i]!;
      const target = targets[i];
      targets[i] = undefined;
      this.#deliver(msg, target);
    }
    if (this.#head < messages.length) {
      yieldTurn(this.#drain);
      return;
    }
    this.#messages = [];
    this.#targets = [];
    this.#head = 0;
    this.#scheduled = false;
  };

  #deliver(msg: Message, target: Route | Pending | undefined): void {
    if (target instanceof Route) {
      target.queued--;
      return this.#dispatch(msg, target);
    }
    if (target && msg.type === 'response' && this.#pending.get(target.key) === target) {
      if (!isProvisional(msg.body.code)) return this.#settle(target, msg);
      // A provisional response restarts the wait for the final one (and moves it to the back).
      this.#pending.delete(target.key);
      target.deadline = performance.now() + this.#timeoutMs;
      this.#pending.set(target.key, target);
      return this.#call(target.handler, msg);
    }
    // No route when sent, or a response whose request has settled since (a 408 went first):
    // a listener may take it now.
    this.#dispatch(msg, this.#route(msg.to));
  }

  #dispatch(msg: Message, route: Route | undefined): void {
    if (route && route.listeners.length > 0) {
      for (const listener of route.listeners) this.#call(listener, msg);
    } else {
      this.#unroutable(msg);
    }
  }

  /** Nobody takes `msg`: a request is answered 404, anything else is reported. */
  #unroutable(msg: Message): void {
    if (msg.type !== 'response' && !this.#closed) {
      const res = response(msg, Code.NOT_FOUND, `no route to ${msg.to}`);
      const pending = this.#pending.get(`${res.to}\n${res.id}`);
      const route = pending ? undefined : this.#route(res.to);
      if (pending || route) return this.#enqueue(res, pending ?? route);
    }
    this.#onError(
      new ProtoflyError(
        'PF_ERR_NO_ROUTE',
        `no route to ${msg.to} for ${msg.type} ${msg.id} from ${msg.from}`,
        {
          to: msg.to,
          id: msg.id,
        },
      ),
      msg,
    );
  }

  #call<M extends Message>(fn: (m: M) => void, msg: M): void {
    try {
      fn(msg);
    } catch (err) {
      this.#onError(
        new ProtoflyError(
          'PF_ERR_LISTENER',
          `a listener for ${msg.to} threw on ${msg.type} ${msg.id}: ${(err as Error)?.message ?? String(err)}`,
          { to: msg.to, id: msg.id },
          { cause: err },
        ),
        msg,
      );
    }
  }
}
