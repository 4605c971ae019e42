import { asProtoflyError, isProtoflyError, ProtoflyError } from '../core/errors.js';
import type { StubHandle } from '../core/host.js';
import { Code, type Message, response } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import { labelOf } from '../core/plugin.js';
import type { StubStatus } from '../core/stub.js';
import type { Bus } from './bus.js';
import { versionOf } from './versions.js';

/** How soon a stub whose window was full is given what waited, in ms. */
const BUSY_RETRY_MS = 5;

/**
 * One stub instance of a conversation (or of the inbox) as the runtime tracks it from its
 * activation on: the package version it runs, its handle once `activate` returned, its status.
 * (The sandbox's own instance classes are the same instance seen from the worker.)
 */
export interface Activation {
  readonly pkg: StubPackage;
  /** Resolves once `activate` returned; rejects when it did not. */
  readonly started: Promise<StubHandle>;
  handle?: StubHandle;
  status: StubStatus;
  /** Why the host failed it (`PF_ERR_SANDBOX` it threw, `PF_ERR_MEMORY`, `PF_ERR_WATCHDOG`...). */
  failure?: ProtoflyError;
  /**
   * The runtime's last refusal of something it asked for (a socket the policy refuses, a send):
   * why it failed when its stub gives no code of its own (a stub may not pass on the runtime's
   * verdicts, core/errors.ts `stub`).
   */
  refusal?: ProtoflyError;
  /** Set once it is being stopped. */
  stopping?: Promise<void>;
}

/** What a conversation's scope is built from. */
export interface ScopeInit {
  readonly bus: Bus;
  /** The conversation's peer; none for the inbox, which has no route of its own. */
  readonly peer?: string;
  readonly holdLimit: number;
  /** The carrying instance's status: the conversation's. */
  readonly onStatus: (status: StubStatus, detail?: string) => void;
  readonly onError: (err: ProtoflyError) => void;
  /** Stops an instance (and counts it out); never rejects. */
  readonly stop: (instance: Activation) => Promise<void>;
}

/**
 * A conversation's resources, made with it and disposed with it: the
 * bus route to the peer, and the stub instance that carries the conversation. Messages for the
 * peer are held (bounded) while no instance takes them: before the first is there, and while a
 * live swap brings up another version (see swap.ts).
 */
export class ConversationScope {
  /** The instance that carries the conversation: it takes the outbound messages, its status is the conversation's. */
  current: Activation | undefined;
  /** The instance of another version a live swap is bringing up. */
  candidate: Activation | undefined;
  /** Told of the candidate's status reports (by the swap waiting for it to go live). */
  onCandidateStatus: ((status: StubStatus, detail?: string) => void) | undefined;
  readonly #held: Message[] = [];
  #holding = false;
  /** The timer that gives the stub what waited for room in its window. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  /** The version a swap brings up, whose inbound messages wait until the old instance stopped. */
  #parking: StubPackage | undefined;
  readonly #parked: Message[] = [];
  readonly #unlisten: () => void;
  /** The carrying instance's last status detail. */
  #detail: string | undefined;
  /** The callers of {@link live} waiting for the carrying instance. */
  readonly #waiting = new Set<(instance: Activation, err?: ProtoflyError) => void>();
  #disposed = false;

  constructor(private readonly init: ScopeInit) {
    const { peer } = init;
    this.#unlisten = peer === undefined ? () => {} : init.bus.listen(peer, (msg) => this.#toStub(msg));
  }

  /** The conversation's peer; undefined for the inbox. */
  get peer(): string | undefined {
    return this.init.peer;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Outbound messages held now. */
  get held(): number {
    return this.#held.length;
  }

  /** The current instance's `activate` returned: it takes what was held for it. */
  attach(instance: Activation, handle: StubHandle): void {
    instance.handle = handle;
    if (instance === this.current && !this.#holding) this.#flush();
  }

  /** From now on, outbound messages wait for {@link release} (a live swap begins). */
  hold(): void {
    this.#holding = true;
  }

  /** `instance` carries the conversation from now on, and takes what was held, in order. */
  release(instance: Activation): void {
    const changed = instance !== this.current;
    this.current = instance;
    this.candidate = undefined;
    this.onCandidateStatus = undefined;
    this.#holding = false;
    // Another instance carries it now (one revived after a swap): its status is the conversation's.
    if (changed) this.#carrying(instance, instance.status);
    if (instance.handle) this.#flush();
  }

  /**
   * Resolves once the instance carrying the conversation is live: reachable at its domain
   * (core/stub.ts, `live`). Rejects with why it is not: its activation failed; it failed first,
   * with the error its stub (`PF_ERR_AUTH` for refused credentials) or host gave, else the
   * runtime's last refusal of it (`PF_ERR_POLICY` for a socket), else `PF_ERR_SANDBOX`; it stopped first (`PF_ERR_CLOSED`); or `PF_ERR_TIMEOUT` after `timeoutMs`,
   * the runtime's bound for a stub that says neither. The caller ends the scope when it rejects.
   */
  live(timeoutMs: number): Promise<void> {
    const current = this.current;
    if (!current)
      return Promise.reject(new ProtoflyError('PF_ERR_CLOSED', `no stub instance for ${this.#who}`));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          settle(
            new ProtoflyError(
              'PF_ERR_TIMEOUT',
              `the stub ${labelOf(current.pkg)} for ${this.#who} was not live (reachable at ${current.pkg.descriptor.domain}) within ${timeoutMs} ms; last status ${this.current?.status}`,
              { timeoutMs },
            ),
          ),
        timeoutMs,
      );
      const settle = (err?: ProtoflyError) => {
        clearTimeout(timer);
        this.#waiting.delete(wait);
        if (err) reject(err);
        else resolve();
      };
      const wait = (instance: Activation, err?: ProtoflyError) => {
        if (err) return settle(err);
        if (instance.status === 'live') return settle();
        if (instance.status === 'failed' || instance.status === 'stopped') settle(this.#ended(instance));
      };
      this.#waiting.add(wait);
      current.started.catch((err: unknown) => {
        if (this.current === current) wait(current, asProtoflyError(err, 'PF_ERR_SANDBOX'));
      });
      wait(current);
    });
  }

  /**
   * Takes back a message held for the stub, before the stub got it. True when it was held
   * (it will not be sent now).
   */
  withdraw(id: string): boolean {
    const i = this.#held.findIndex((m) => m.id === id);
    if (i < 0) return false;
    this.#held.splice(i, 1);
    return true;
  }

  /**
   * Something an instance did was refused, or it failed: the conversation's concern when it is
   * the carrying instance; else `otherwise` (a candidate's failure is the cause its swap reports).
   */
  error(instance: Activation, err: ProtoflyError, otherwise: (err: ProtoflyError) => void): void {
    if (instance === this.current) this.init.onError(err);
    else otherwise(err);
  }

  /** A status report from one of this scope's instances. */
  status(instance: Activation, status: StubStatus, detail?: string): void {
    instance.status = status;
    // The carrying instance ending during a swap (the two share a worker, which the new version
    // brought down) is for the swap to settle: it revives the old version if it rolls back.
    const ended = status === 'failed' || status === 'stopped';
    if (instance === this.current && !(ended && this.candidate)) this.#carrying(instance, status, detail);
    else if (instance === this.candidate) this.onCandidateStatus?.(status, detail);
  }

  /** The carrying instance's status: the conversation's, and what {@link live} waits for. */
  #carrying(instance: Activation, status: StubStatus, detail?: string): void {
    this.#detail = detail;
    this.init.onStatus(status, detail);
    for (const wait of [...this.#waiting]) wait(instance);
  }

  /** Why `instance` ended before it was live. */
  #ended(instance: Activation): ProtoflyError {
    if (instance.failure) return instance.failure;
    if (instance.status === 'failed' && instance.refusal) return instance.refusal;
    const label = labelOf(instance.pkg);
    return instance.status === 'stopped'
      ? new ProtoflyError('PF_ERR_CLOSED', `the stub ${label} for ${this.#who} stopped before it was live`)
      : new ProtoflyError(
          'PF_ERR_SANDBOX',
          `the stub ${label} for ${this.#who} failed: ${this.#detail ?? 'no reason given'}`,
        );
  }

  /** Who the conversation is with, in messages. */
  get #who(): string {
    return this.init.peer ?? 'the inbox';
  }

  /**
   * A swap brings up `candidate`: its status reports go to {@link onCandidateStatus}, and inbound
   * messages through its version are parked until {@link unpark}, once the old instance stopped
   * (see swap.ts for why).
   */
  propose(candidate: Activation): void {
    this.candidate = candidate;
    this.#parking = candidate.pkg;
  }

  /**
   * Keeps an inbound message that came through `pkg`, the version a swap brings up, until the
   * old instance stopped. False when it is not such a message, or when too many are parked
   * already (delivered at once then: late order beats loss).
   */
  park(pkg: StubPackage, msg: Message): boolean {
    if (!this.#parking || versionOf(this.#parking) !== versionOf(pkg)) return false;
    if (this.#parked.length >= this.init.holdLimit) return false;
    this.#parked.push(msg);
    return true;
  }

  /** Ends parking: takes out the parked messages, in order. */
  unpark(): Message[] {
    this.#parking = undefined;
    return this.#parked.splice(0);
  }

  async dispose(): Promise<void> {
    this.#disposed = true;
    clearTimeout(this.#retry);
    this.#unlisten();
    const instances = [this.current, this.candidate].filter((i): i is Activation => i !== undefined);
    await Promise.all(instances.map((i) => this.init.stop(i)));
  }

  /** Gives the current instance what was held, in order, until its window is full. */
  #flush(): void {
    this.#retry = undefined;
    const handle = this.current?.handle;
    while (handle && !this.#holding && this.#held.length > 0) {
      if (!this.#post(handle, this.#held[0]!)) return;
      this.#held.shift();
    }
  }

  #toStub(msg: Message): void {
    const handle = this.current?.handle;
    // Behind what is held, in order: the current instance takes it when it takes those.
    if (handle && !this.#holding && this.#held.length === 0 && this.#post(handle, msg)) return;
    if (this.#held.length < this.init.holdLimit || msg.type === 'response') {
      // A response is held whatever the bound: it settles a request the peer is waiting on,
      // and there are no more of them than requests the stub delivered.
      this.#held.push(msg);
      return;
    }
    this.#refuse(
      msg,
      new ProtoflyError(
        'PF_ERR_FLOOD',
        `${this.#held.length} messages held for ${msg.to}; ${msg.id} refused`,
      ),
    );
  }

  /**
   * Gives `msg` to the stub. False when its window is full: the message waits and is given
   * again shortly (the host says nothing when the window opens). A stub that ended never
   * gets it: a request is answered 503, a response reported.
   */
  #post(handle: StubHandle, msg: Message): boolean {
    try {
      handle.postMessage(msg);
      return true;
    } catch (err) {
      if (isProtoflyError(err, 'PF_ERR_QUEUE_FULL') && !this.#disposed) {
        this.#retry ??= setTimeout(() => this.#flush(), BUSY_RETRY_MS);
        return false;
      }
      this.#refuse(msg, err as ProtoflyError);
      return true;
    }
  }

  /** A message the stub did not take: a request is answered 503 (not delivered), a response reported. */
  #refuse(msg: Message, err: ProtoflyError): void {
    if (msg.type === 'response') return this.init.onError(err);
    try {
      this.init.bus.send(response(msg, Code.UNAVAILABLE, err.message));
    } catch (e) {
      this.init.onError(e as ProtoflyError);
    }
  }
}
