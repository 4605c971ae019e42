import { asProtoflyError, ProtoflyError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import type { Carriers, VersionEvent } from './carriers.js';
import { carrierOf } from './conversation.js';
import { ConversationScope, type ScopeInit } from './scope.js';

/** What happened to the inbox (see {@link InboxEvents.inbox}). */
export interface InboxEvent {
  /** The carrier domain of the inbox: the home domain, or one where the user is a guest. */
  readonly domain: string;
  readonly state: 'lost' | 'restored' | 'refused';
  /** Why it was lost, or why registering again failed. */
  readonly error?: ProtoflyError;
  /** Registering again: which attempt this is, and the delay before it, in ms. */
  readonly attempt?: number;
  readonly delayMs?: number;
}

export interface InboxEvents {
  /**
   * The inbox's stub instance failed after it was live (its worker died, e.g. brought down by
   * another instance; the far side dropped it): `lost`, then `restored` once live again,
   * retried with back-off; `refused` when an attempt's activation threw (the stub fails on its
   * own): register() must be called again. A failure before the first `live` is not told here:
   * register() rejects with it.
   */
  inbox(event: InboxEvent): void;
  /** The inbox started on a version. */
  version(event: VersionEvent): void;
  error(err: ProtoflyError): void;
}

/** What the inbox needs from its runtime. */
export interface InboxLink {
  readonly carriers: Carriers;
  /** How long its instance may take to go live (see RuntimeOptions.liveTimeoutMs). */
  readonly liveTimeoutMs: number;
  /** What the inbox's scope is built from. */
  scopeInit(onStatus: ScopeInit['onStatus']): ScopeInit;
}

/** Back-off of re-registering the inbox: first delay, and the longest. */
const RETRY_MS = 100;
const RETRY_MAX_MS = 5000;

/**
 * The inbox: a stub instance of one carrier domain (the user's home domain, or one where the
 * user is a guest) with no peer of its own, through which peers open conversations with this
 * user. It is registered once asked to, and again, with back-off, when its instance fails for
 * a reason not its own code's.
 */
export class Inbox extends Emitter<InboxEvents> {
  readonly #domain: string;
  readonly #link: InboxLink;
  #registering: Promise<void> | undefined;
  #scope: ConversationScope | undefined;
  /** The scope of a registration not live yet: how it fails is its register() caller's. */
  #pending: ConversationScope | undefined;
  /** Registering again after the inbox was lost: the timer, and attempts so far. */
  #retry: { timer?: ReturnType<typeof setTimeout>; attempt: number } | undefined;
  #closed = false;

  /** `domain`: the carrier domain whose stub carries the inbox (the home domain, or one where the user is a guest). */
  constructor(domain: string, link: InboxLink, onListenerError: (err: unknown) => void) {
    super(onListenerError);
    this.#domain = domain;
    this.#link = link;
  }

  /** The inbox's scope while it is registered (or registering). */
  get scope(): ConversationScope | undefined {
    return this.#scope;
  }

  /** Registers the inbox, or returns the registration under way or done (see Runtime.register). */
  register(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ProtoflyError('PF_ERR_CLOSED', 'the runtime is closed; nothing registered'));
    }
    if (!this.#registering) {
      const registering = this.#register();
      this.#registering = registering;
      registering.catch(() => {
        if (this.#registering === registering) this.#registering = undefined;
      });
    }
    return this.#registering;
  }

  /** No registering any more, and no retry: a closing runtime's first step (then {@link dispose}). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry?.timer);
    this.#retry = undefined;
  }

  /** Stops the inbox's instance, once a registration under way settled (one not live yet ends now). */
  async dispose(): Promise<void> {
    // Its register() rejects (PF_ERR_CLOSED) rather than wait for its stub to go live.
    void this.#pending?.dispose();
    await this.#registering?.catch(() => undefined);
    await this.#scope?.dispose();
  }

  /** Starts the inbox's instance; settles once it is live, or with why it is not (scope.ts, `live`). */
  async #register(): Promise<void> {
    const { carriers } = this.#link;
    const { pkg, token } = await carriers.prepare(this.#domain);
    if (this.#closed) throw new ProtoflyError('PF_ERR_CLOSED', 'the runtime closed while registering');
    const init = this.#link.scopeInit((status, detail) => {
      if (status === 'live') carriers.resume(scope);
      if (status === 'failed') this.#failed(scope, detail);
    });
    const scope: ConversationScope = new ConversationScope({
      ...init,
      // The failure of a registration under way is its caller's: register() rejects with it.
      onError: (err) => {
        if (this.#pending !== scope || err !== scope.current?.failure) init.onError(err);
      },
    });
    const instance = carriers.start(pkg, scope, undefined, token);
    scope.current = instance;
    this.#scope = scope;
    this.#pending = scope;
    try {
      const started = instance.started.then((handle) => scope.attach(instance, handle));
      await Promise.all([started, scope.live(this.#link.liveTimeoutMs)]);
    } catch (err) {
      if (this.#scope === scope) this.#scope = undefined;
      await scope.dispose();
      throw err;
    } finally {
      if (this.#pending === scope) this.#pending = undefined;
    }
    this.emit('version', { carrier: carrierOf(pkg.descriptor), change: 'start' });
  }

  /**
   * The inbox's instance failed: it is dropped, so that register() builds it again, and the
   * inbox does so itself, with back-off: a worker that died (its memory, a crash, another
   * instance in it) is not the stub's fault. It stops when an attempt's activation throws:
   * that stub fails on its own.
   */
  #failed(scope: ConversationScope, detail: string | undefined): void {
    // Not live yet: its register() rejects with the failure, and nothing is retried.
    if (this.#scope !== scope || this.#pending === scope) return;
    this.#scope = undefined;
    this.#registering = undefined;
    void scope.dispose();
    const cause = scope.current?.failure;
    const error =
      cause ??
      new ProtoflyError('PF_ERR_SANDBOX', `inbox stub of ${this.#domain} failed: ${detail ?? ''}`.trim());
    // The host's reason was reported with the failure already.
    if (!cause) this.emit('error', error);
    if (this.#closed) return;
    this.emit('inbox', { domain: this.#domain, state: 'lost', error });
    this.#retry ??= { attempt: 0 };
    this.#reregister();
  }

  /** Registers the inbox again after a delay that doubles per failed attempt. */
  #reregister(): void {
    const retry = this.#retry;
    if (!retry || this.#closed) return;
    retry.attempt++;
    const delayMs = Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** (retry.attempt - 1));
    retry.timer = setTimeout(() => {
      this.register().then(
        () => {
          this.#retry = undefined;
          this.emit('inbox', { domain: this.#domain, state: 'restored', attempt: retry.attempt });
        },
        (err: unknown) => {
          const error = asProtoflyError(err, 'PF_ERR_SANDBOX');
          // Its activation threw: it fails on its own, and only a new register() tries again.
          if (error.code === 'PF_ERR_SANDBOX') {
            this.#retry = undefined;
            return this.emit('inbox', {
              domain: this.#domain,
              state: 'refused',
              error,
              attempt: retry.attempt,
            });
          }
          this.emit('inbox', { domain: this.#domain, state: 'lost', error, attempt: retry.attempt, delayMs });
          this.#reregister();
        },
      );
    }, delayMs);
  }
}
