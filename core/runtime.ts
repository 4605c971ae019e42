import 'reflect-metadata';
import semver from 'semver';
import { type DependencyContainer, container as rootContainer } from 'tsyringe';
import { parseAddress } from './address.js';
import { Bus } from './bus.js';
import { pluginConfig } from './config.js';
import { type Carrier, Conversation, carrierOf } from './conversation.js';
import { asProtoflyError, isProtoflyError, ProtoflyError } from './errors.js';
import { Emitter } from './events.js';
import type { StubDescriptor } from './generated/types.js';
import type { SandboxHost, StubHandle } from './host.js';
import type { Loader } from './loader.js';
import { Code, type Message, type ResponseMessage, request, response } from './message.js';
import type { VerifiedPackage } from './plugin.js';
import { ConversationScope, type Instance, SCOPE_INIT, type ScopeInit } from './scope.js';
import { type StubStatus, WITHDRAW } from './stub.js';
import { type SwapLink, swapLive } from './swap.js';
import { UpdateWatcher, type UpdateWatcherOptions } from './updates.js';
import { Versions, versionOf } from './versions.js';

/**
 * The runtime: opens conversations with peers in any domain by loading that domain's stub
 * on the fly, and takes the conversations peers open. Browser-safe: the sandbox host, the
 * loader's store and the identity's token source are handed in.
 */

/** Who the runtime's user is, and how they prove it to a carrier domain. */
export interface RuntimeIdentity {
  /** `user://<home-domain>/<name>`. */
  readonly address: string;
  /** A token for the given carrier domain (the audience), issued by the home domain. */
  token?(audience: string): Promise<string>;
}

/**
 * What a new version of a domain's stub does to a runtime:
 *
 * - `pin`: nothing; the runtime keeps the version it first verified, for every conversation.
 * - `new-conversations` (the default): new conversations (and the inbox) use it; running ones
 *   keep theirs until they end, then the old version is unloaded from the sandbox.
 * - `live`: running conversations move to it too (a live swap, see swap.ts).
 */
export type UpdatePolicy = 'pin' | 'new-conversations' | 'live';

export interface RuntimeOptions {
  readonly identity: RuntimeIdentity;
  readonly loader: Loader;
  readonly host: SandboxHost;
  /** Stub configuration per carrier domain, over the descriptor's defaults. */
  readonly stubConfig?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly bus?: Bus;
  /** How long a new stub instance may take to go live. Default 10 s. */
  readonly liveTimeoutMs?: number;
  /** Parent of every conversation's container. Default: a child of tsyringe's root. */
  readonly container?: DependencyContainer;
  /** Outbound messages held for an instance that is not there yet (or during a swap). Default 1000. */
  readonly holdLimit?: number;
  /** The update policy per carrier domain; `'*'` for the others. Default `new-conversations`. */
  readonly updates?: Readonly<Record<string, UpdatePolicy>>;
  /**
   * How long a live swap may take, from the snapshot to the new instance live, before it is
   * rolled back. Default 2000 ms: under the bus's request time-out, so that requests held
   * during a swap that is rolled back still get their answer.
   */
  readonly swapTimeoutMs?: number;
  /** How the runtime listens for new versions (polling interval, retries). */
  readonly watch?: Omit<UpdateWatcherOptions, 'catalogue'>;
}

/** Which stub version carries a conversation, or the inbox. */
export interface VersionEvent {
  /** The conversation's peer; undefined for the inbox. */
  readonly peer?: string;
  readonly carrier: Carrier;
  /** `start`: a new conversation; `swap`: a live swap moved it from `previous`; `rollback`: a swap to `attempted` failed (`error`). */
  readonly change: 'start' | 'swap' | 'rollback';
  readonly previous?: Carrier;
  readonly attempted?: Carrier;
  /** A swap: outbound messages held meanwhile, and for how long, in ms. */
  readonly held?: number;
  readonly heldMs?: number;
  readonly error?: ProtoflyError;
}

/** A new version of a domain's stub this runtime took, or could not take. */
export interface UpdateEvent {
  readonly domain: string;
  readonly policy: UpdatePolicy;
  /** The version new conversations get from now on. */
  readonly carrier?: Carrier;
  readonly previous?: Carrier;
  /** Why the catalogue's version was not taken (it failed verification, or could not be fetched). */
  readonly error?: ProtoflyError;
}

export interface RuntimeEvents {
  /** A peer opened a conversation. */
  conversation(conversation: Conversation): void;
  /** Which version carries which conversation: when it starts, and when a swap moves it (or fails to). */
  version(event: VersionEvent): void;
  /** A domain's new stub version was taken (or refused). */
  update(event: UpdateEvent): void;
  /** A superseded version runs no instance any more and was unloaded from the sandbox. */
  unload(carrier: Carrier): void;
  /**
   * The inbox's stub instance failed (its worker died, e.g. brought down by another instance):
   * `lost`, then `restored` once registered again, retried with back-off; `refused` when an
   * attempt's activation threw (the stub fails on its own): register() must be called again.
   */
  inbox(event: InboxEvent): void;
  /** Something went wrong that belongs to no caller: a stub broke a rule, a message could not be routed. */
  error(err: ProtoflyError): void;
}

/** What happened to the inbox (see {@link RuntimeEvents.inbox}). */
export interface InboxEvent {
  readonly state: 'lost' | 'restored' | 'refused';
  /** Why it was lost, or why registering again failed. */
  readonly error?: ProtoflyError;
  /** Registering again: which attempt this is, and the delay before it, in ms. */
  readonly attempt?: number;
  readonly delayMs?: number;
}

type StubPackage = VerifiedPackage<StubDescriptor>;

/** Back-off of re-registering the inbox: first delay, and the longest. */
const INBOX_RETRY_MS = 100;
const INBOX_RETRY_MAX_MS = 5000;

export class Runtime extends Emitter<RuntimeEvents> {
  readonly bus: Bus;
  readonly identity: RuntimeIdentity;
  readonly #loader: Loader;
  readonly #host: SandboxHost;
  readonly #stubConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly #liveTimeoutMs: number;
  readonly #container: DependencyContainer;
  readonly #holdLimit: number;
  readonly #policies: Readonly<Record<string, UpdatePolicy>>;
  readonly #swapTimeoutMs: number;
  readonly #conversations = new Map<string, Conversation>();
  readonly #scopes = new Map<string, ConversationScope>();
  readonly #opening = new Map<string, Promise<Conversation>>();
  readonly #versions = new Versions();
  readonly #watcher: UpdateWatcher;
  readonly #unwatch = new Map<string, () => void>();
  /** Versions whose live swap failed on their own account: never taken again. */
  readonly #refused = new Set<string>();
  /** The domains being checked for a new version; `again` when a notice came meanwhile. */
  readonly #checking = new Map<string, { again: boolean }>();
  /** The swap under way (or queued) per scope: one at a time. */
  readonly #swaps = new Map<ConversationScope, Promise<void>>();
  readonly #swapLink: SwapLink;
  readonly #unlisten: () => void;
  /** Scopes whose swap found the carrier unreachable: swapped again once they are live. */
  readonly #deferred = new WeakSet<ConversationScope>();
  #inbox: Promise<void> | undefined;
  #inboxScope: ConversationScope | undefined;
  /** Re-registering the inbox after it was lost: the timer, and attempts so far. */
  #inboxRetry: { timer?: ReturnType<typeof setTimeout>; attempt: number } | undefined;
  #closed = false;

  constructor(options: RuntimeOptions) {
    super((err) => this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')));
    this.identity = options.identity;
    this.#loader = options.loader;
    this.#host = options.host;
    this.#stubConfig = options.stubConfig ?? {};
    this.#liveTimeoutMs = options.liveTimeoutMs ?? 10_000;
    this.#container = options.container ?? rootContainer.createChildContainer();
    this.#holdLimit = options.holdLimit ?? 1000;
    this.#policies = options.updates ?? {};
    this.#swapTimeoutMs = options.swapTimeoutMs ?? 2000;
    this.bus = options.bus ?? new Bus({ onError: (err) => this.emit('error', err) });
    parseAddress(this.identity.address);
    this.#unlisten = this.bus.listen(this.identity.address, (msg) => this.#toApp(msg));
    this.#watcher = new UpdateWatcher({ ...options.watch, catalogue: this.#loader.catalogue }, (err) =>
      this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')),
    );
    this.#watcher.on('update', (domain, notice) => {
      if (notice?.kind !== 'backend') this.#check(domain);
    });
    this.#watcher.on('error', (err) => this.emit('error', err));
    this.#swapLink = {
      start: (scope, pkg, snapshot) => this.#start(pkg, scope, snapshot),
      stop: (instance) => this.#stop(instance),
      deliver: (pkg, msg) => this.#deliver(pkg, msg, (err) => this.emit('error', err)),
    };
  }

  /** The conversations open now, by peer. */
  get conversations(): ReadonlyMap<string, Conversation> {
    return this.#conversations;
  }

  /** The update policy for a carrier domain. */
  policy(domain: string): UpdatePolicy {
    return this.#policies[domain] ?? this.#policies['*'] ?? 'new-conversations';
  }

  /**
   * Opens (or returns the open) conversation with `peer`: loads the peer domain's stub through
   * the loader (verified), activates it in the sandbox, and resolves once it is live.
   *
   * @throws ProtoflyError from the loader (any verification refusal), `PF_ERR_CONVERSATION`
   *   when the stub lacks a capability or does not go live in time, `PF_ERR_SANDBOX`.
   */
  conversation(peer: string, options: { capabilities?: readonly string[] } = {}): Promise<Conversation> {
    const open = this.#conversations.get(peer) ?? this.#opening.get(peer);
    if (open) return Promise.resolve(open);
    const opening = this.#open(peer, options.capabilities ?? []).finally(() => this.#opening.delete(peer));
    this.#opening.set(peer, opening);
    return opening;
  }

  /**
   * Connects to the home domain with its stub so that peers can open conversations with this
   * user; they arrive as `conversation` events. Once the inbox's instance failed, calling it
   * again registers anew; when it failed for a reason not its own code's, the runtime does so
   * itself, with back-off (see {@link RuntimeEvents.inbox}).
   */
  register(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ProtoflyError('PF_ERR_CLOSED', 'the runtime is closed; nothing registered'));
    }
    if (!this.#inbox) {
      const inbox = this.#registerInbox();
      this.#inbox = inbox;
      inbox.catch(() => {
        if (this.#inbox === inbox) this.#inbox = undefined;
      });
    }
    return this.#inbox;
  }

  async #registerInbox(): Promise<void> {
    const home = parseAddress(this.identity.address).domain;
    const pkg = await this.#packageFor(home);
    const scope: ConversationScope = new ConversationScope(
      this.#scopeInit(undefined, (status, detail) => {
        if (status === 'live') this.#resume(scope);
        if (status === 'failed') this.#inboxFailed(scope, home, detail);
      }),
    );
    const instance = this.#start(pkg, scope);
    scope.current = instance;
    this.#inboxScope = scope;
    try {
      scope.attach(instance, await instance.started);
    } catch (err) {
      if (this.#inboxScope === scope) this.#inboxScope = undefined;
      await this.#stop(instance);
      throw err;
    }
    this.emit('version', { carrier: carrierOf(pkg.descriptor), change: 'start' });
  }

  /**
   * The inbox's instance failed: it is dropped, so that register() builds it again, and the
   * runtime does so itself, with back-off: a worker that died (its memory, a crash, another
   * instance in it) is not the stub's fault. It stops when an attempt's activation throws:
   * that stub fails on its own.
   */
  #inboxFailed(scope: ConversationScope, home: string, detail: string | undefined): void {
    if (this.#inboxScope !== scope) return;
    this.#inboxScope = undefined;
    this.#inbox = undefined;
    void scope.dispose();
    const cause = scope.current?.failure;
    const error =
      cause ?? new ProtoflyError('PF_ERR_SANDBOX', `inbox stub of ${home} failed: ${detail ?? ''}`.trim());
    // The host's reason was reported with the failure already.
    if (!cause) this.emit('error', error);
    if (this.#closed) return;
    this.emit('inbox', { state: 'lost', error });
    this.#inboxRetry ??= { attempt: 0 };
    this.#reregister();
  }

  /** Registers the inbox again after a delay that doubles per failed attempt. */
  #reregister(): void {
    const retry = this.#inboxRetry;
    if (!retry || this.#closed) return;
    retry.attempt++;
    const delayMs = Math.min(INBOX_RETRY_MAX_MS, INBOX_RETRY_MS * 2 ** (retry.attempt - 1));
    retry.timer = setTimeout(() => {
      this.register().then(
        () => {
          this.#inboxRetry = undefined;
          this.emit('inbox', { state: 'restored', attempt: retry.attempt });
        },
        (err: unknown) => {
          const error = asProtoflyError(err, 'PF_ERR_SANDBOX');
          // Its activation threw: it fails on its own, and only a new register() tries again.
          if (error.code === 'PF_ERR_SANDBOX') {
            this.#inboxRetry = undefined;
            return this.emit('inbox', { state: 'refused', error, attempt: retry.attempt });
          }
          this.emit('inbox', { state: 'lost', error, attempt: retry.attempt, delayMs });
          this.#reregister();
        },
      );
    }, delayMs);
  }

  /**
   * A failure of a part the runtime was built with that belongs to no caller (its package
   * cache could not be written): told as an `error` event; the runtime goes on.
   *
   * @internal for the parts a runtime is assembled from (node/runtime.ts)
   */
  fault(err: unknown): void {
    this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX'));
  }

  /** Ends every conversation, the inbox, and the watching of catalogues. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#inboxRetry?.timer);
    this.#inboxRetry = undefined;
    this.#watcher.close();
    this.#unwatch.clear();
    await Promise.allSettled([...this.#conversations.values()].map((c) => c.close()));
    await this.#inbox?.catch(() => undefined);
    await this.#inboxScope?.dispose();
    this.#unlisten();
  }

  async #open(peer: string, capabilities: readonly string[]): Promise<Conversation> {
    const pkg = await this.#packageFor(parseAddress(peer).domain);
    const d = pkg.descriptor;
    const missing = capabilities.filter((c) => !(d.capabilities as readonly string[]).includes(c));
    if (missing.length > 0) {
      throw new ProtoflyError(
        'PF_ERR_CONVERSATION',
        `${d.domain}'s stub ${d.name}@${d.version} offers ${d.capabilities.join(', ')}, not ${missing.join(', ')}`,
        { missing },
      );
    }
    const conversation = this.#begin(peer, pkg, false);
    try {
      await this.#live(conversation);
    } catch (err) {
      await conversation.close();
      throw err;
    }
    return conversation;
  }

  /**
   * The version of `domain`'s stub a new conversation gets: the pinned one, or what the loader
   * verifies now (then taken, see {@link #adopt}). While the catalogue is away or serves a
   * version that fails verification, the version in use stays good.
   */
  async #packageFor(domain: string): Promise<StubPackage> {
    const current = this.#versions.current(domain);
    const policy = this.policy(domain);
    if (current && policy === 'pin') return current;
    let pkg: StubPackage;
    try {
      pkg = (await this.#loader.load({ domain })) as StubPackage;
    } catch (err) {
      if (!current) throw err;
      this.emit('update', { domain, policy, error: asProtoflyError(err, 'PF_ERR_SANDBOX') });
      return current;
    }
    return this.#adopt(pkg);
  }

  /**
   * Takes a verified version of a domain's stub for new conversations, unless it is the one in
   * use, was refused, or the domain is pinned; unloads the one it replaces if that runs nothing,
   * and moves the inbox (and, under `live`, the running conversations) to it.
   */
  #adopt(pkg: StubPackage): StubPackage {
    const domain = pkg.descriptor.domain;
    const policy = this.policy(domain);
    const current = this.#versions.current(domain);
    // Versions only move forward: a slow load that verified an older one before a newer came
    // must not bring it back (a provider rolls back by publishing a higher version).
    if (
      current &&
      (policy === 'pin' ||
        versionOf(current) === versionOf(pkg) ||
        this.#refused.has(versionOf(pkg)) ||
        semver.lt(pkg.descriptor.version, current.descriptor.version))
    ) {
      return current;
    }
    const idle = this.#versions.setCurrent(pkg);
    if (idle) this.#unload(idle);
    if (!current) return pkg;
    this.emit('update', {
      domain,
      policy,
      carrier: carrierOf(pkg.descriptor),
      previous: carrierOf(current.descriptor),
    });
    const inbox = this.#inboxScope;
    if (inbox?.current?.pkg.descriptor.domain === domain) this.#swap(inbox);
    if (policy === 'live') {
      for (const scope of this.#scopes.values()) {
        if (scope.current?.pkg.descriptor.domain === domain) this.#swap(scope);
      }
    }
    return pkg;
  }

  /** Asks the catalogue of `domain` for its version again (a notice came); one check at a time per domain. */
  #check(domain: string): void {
    const running = this.#checking.get(domain);
    if (running) {
      running.again = true;
      return;
    }
    const state = { again: true };
    this.#checking.set(domain, state);
    void (async () => {
      while (state.again && !this.#closed) {
        state.again = false;
        this.#loader.refresh(domain);
        await this.#packageFor(domain).catch((err: unknown) =>
          this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')),
        );
      }
      this.#checking.delete(domain);
    })();
  }

  /** Queues a live swap of `scope` to its domain's current version (the inbox's under any policy but `pin`). */
  #swap(scope: ConversationScope): void {
    const previous = this.#swaps.get(scope) ?? Promise.resolve();
    // Nothing a swap does may reject into the app: whatever escapes is reported.
    const next = previous
      .then(() => this.#swapNow(scope))
      .catch((err: unknown) => this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')));
    this.#swaps.set(scope, next);
    void next.finally(() => {
      if (this.#swaps.get(scope) === next) this.#swaps.delete(scope);
    });
  }

  async #swapNow(scope: ConversationScope): Promise<void> {
    const from = scope.current;
    if (!from || scope.disposed || this.#closed) return;
    const domain = from.pkg.descriptor.domain;
    const to = this.#versions.current(domain);
    if (!to || versionOf(to) === versionOf(from.pkg) || this.policy(domain) === 'pin') return;
    // One still activating is swapped once it runs; one that never did has nothing to move.
    await from.started.catch(() => undefined);
    if (!from.handle || scope.disposed) return;
    const outcome = await swapLive(scope, to, this.#swapLink, this.#swapTimeoutMs);
    const peer = scope.peer;
    const conversation = peer === undefined ? undefined : this.#conversations.get(peer);
    const [carrier, previous] = [carrierOf(to.descriptor), carrierOf(from.pkg.descriptor)];
    if (outcome.ok) {
      conversation?.moveTo(carrier);
      this.emit('version', {
        ...(peer === undefined ? {} : { peer }),
        carrier,
        previous,
        change: 'swap',
        held: outcome.held,
        heldMs: outcome.heldMs,
      });
      // The next swap of this scope waits until this one's old instance is gone.
      await outcome.retired;
      return;
    }
    const error = outcome.error!;
    if (isProtoflyError(error.cause, 'PF_ERR_CLOSED')) return;
    // Not live in time while its server was away: tried again once the conversation is live.
    if (outcome.unreachable) this.#deferred.add(scope);
    if (outcome.newVersionFailed && !this.#refused.has(versionOf(to))) {
      // New conversations would fail on it too: they keep the version that works.
      this.#refused.add(versionOf(to));
      if (this.#versions.current(domain) === to) {
        const idle = this.#versions.setCurrent(from.pkg);
        if (idle) this.#unload(idle);
      }
    }
    this.emit('version', {
      ...(peer === undefined ? {} : { peer }),
      carrier: previous,
      attempted: carrier,
      change: 'rollback',
      held: outcome.held,
      heldMs: outcome.heldMs,
      error,
    });
    if (conversation) conversation.fail(error);
    else this.emit('error', error);
  }

  /** `scope`'s instance is live (again): a swap that found the carrier unreachable is tried again. */
  #resume(scope: ConversationScope): void {
    if (this.#deferred.delete(scope)) this.#swap(scope);
  }

  /**
   * What an instance did wrong: the conversation's (or, for the inbox, the runtime's) concern
   * when it carries the conversation; a swap candidate's failure is the cause its swap reports,
   * and anything else it does is the runtime's.
   */
  #report(scope: ConversationScope, instance: Instance, err: ProtoflyError): void {
    scope.error(instance, err, (e) => {
      if (instance !== scope.candidate || !isProtoflyError(e, 'PF_ERR_SANDBOX')) this.emit('error', e);
    });
  }

  /** What a scope needs from the runtime; `peer` undefined for the inbox. */
  #scopeInit(
    peer: string | undefined,
    onStatus: ScopeInit['onStatus'],
    conversation?: Conversation,
  ): ScopeInit {
    return {
      bus: this.bus,
      ...(peer === undefined ? {} : { peer }),
      holdLimit: this.#holdLimit,
      onStatus,
      onError: (err) => (conversation ? conversation.fail(err) : this.emit('error', err)),
      stop: (instance) => this.#stop(instance),
    };
  }

  /** Creates a conversation and its scope, and starts its stub instance (not waiting for it). */
  #begin(peer: string, pkg: StubPackage, incoming: boolean): Conversation {
    const child = this.#container.createChildContainer();
    let scope: ConversationScope | undefined;
    const conversation = new Conversation(peer, this.identity.address, carrierOf(pkg.descriptor), incoming, {
      send: (msg) => this.bus.send(msg),
      withdraw: (msg) => this.#withdraw(scope!, msg),
      close: async () => {
        this.#conversations.delete(peer);
        this.#scopes.delete(peer);
        await child.dispose();
      },
    });
    child.registerInstance<ScopeInit>(
      SCOPE_INIT,
      this.#scopeInit(
        peer,
        (s, detail) => {
          conversation.setStatus(s, detail);
          if (s === 'live' && scope) this.#resume(scope);
        },
        conversation,
      ),
    );
    scope = child.resolve(ConversationScope);
    this.#conversations.set(peer, conversation);
    this.#scopes.set(peer, scope);
    const instance = this.#start(pkg, scope, conversation);
    scope.current = instance;
    instance.started.then(
      (handle) => scope.attach(instance, handle),
      (err: unknown) => {
        conversation.fail(asProtoflyError(err, 'PF_ERR_SANDBOX'));
        conversation.setStatus('failed', asProtoflyError(err, 'PF_ERR_SANDBOX').message);
      },
    );
    this.emit('version', { peer, carrier: carrierOf(pkg.descriptor), change: 'start' });
    return conversation;
  }

  /**
   * Starts an instance of `pkg` for `scope` (counted in until {@link #stop}); its status
   * reports go to the scope, which knows whether it carries the conversation.
   */
  #start(pkg: StubPackage, scope: ConversationScope, snapshot?: unknown): Instance {
    if (this.#versions.started(pkg)) this.#watch(pkg.descriptor.domain);
    const instance: Instance = {
      pkg,
      status: 'created',
      started: this.#instantiate(
        pkg,
        scope.peer,
        snapshot,
        (status, detail, error) => {
          if (error) instance.failure = error;
          scope.status(instance, status, detail);
        },
        (msg) => this.#fromStub(instance, scope, msg),
        (err) => this.#report(scope, instance, err),
      ),
    };
    return instance;
  }

  /** Stops an instance once its activation settled, and counts it out; unloads its version when that was its last instance and it is superseded. */
  #stop(instance: Instance): Promise<void> {
    instance.stopping ??= instance.started
      .then(
        (handle) => handle.stop(),
        () => undefined,
      )
      .then(() => {
        const domain = instance.pkg.descriptor.domain;
        const { obsolete, last } = this.#versions.ended(instance.pkg);
        if (obsolete) this.#unload(instance.pkg);
        if (last) {
          this.#unwatch.get(domain)?.();
          this.#unwatch.delete(domain);
        }
      });
    return instance.stopping;
  }

  #unload(pkg: StubPackage): void {
    this.#host.unload(pkg);
    this.emit('unload', carrierOf(pkg.descriptor));
  }

  /** Listens for new versions of `domain` while it runs instances here, unless it is pinned. */
  #watch(domain: string): void {
    if (this.#closed || this.policy(domain) === 'pin' || this.#unwatch.has(domain)) return;
    this.#unwatch.set(domain, this.#watcher.subscribe(domain));
  }

  /**
   * Activates a stub instance for `peer` (or the inbox, for no peer). The host lets it send only
   * from the peer (the inbox: from any user or hyperty); the runtime adds that it may only send
   * to this runtime's user, and that the inbox may not speak as this user.
   */
  async #instantiate(
    pkg: StubPackage,
    peer: string | undefined,
    snapshot: unknown,
    onStatus: (status: StubStatus, detail?: string, error?: ProtoflyError) => void,
    send: (msg: Message) => void,
    report: (err: ProtoflyError) => void,
  ): Promise<StubHandle> {
    const d = pkg.descriptor;
    const token = await this.identity.token?.(d.domain);
    return this.#host.instantiate(pkg, {
      id: `${d.domain}/${d.name}@${d.version}→${peer ?? 'inbox'}`,
      identity:
        token === undefined ? { address: this.identity.address } : { address: this.identity.address, token },
      config: pluginConfig(d, this.#stubConfig[d.domain]),
      from: peer === undefined ? ['user://', 'hyperty://'] : [peer],
      ...(snapshot === undefined ? {} : { snapshot }),
      delegate: {
        onStatus: (status, detail, error) => {
          if (error) report(error);
          onStatus(status, detail, error);
        },
        onRefused: report,
      },
      send,
    });
  }

  /**
   * A message a stub instance sends into the runtime. An inbox message from a new peer opens
   * a conversation; one that came through the version a swap is bringing up waits for the
   * swap (see swap.ts); the rest goes to the bus unless another version delivered it already.
   */
  #fromStub(instance: Instance, scope: ConversationScope, msg: Message): void {
    const d = instance.pkg.descriptor;
    const peer = scope.peer;
    const report = (err: ProtoflyError) => this.#report(scope, instance, err);
    if (msg.to !== this.identity.address || msg.from === this.identity.address) {
      return report(
        new ProtoflyError(
          'PF_ERR_SPOOF',
          `stub ${d.domain}/${d.name} sent ${msg.type} ${msg.id} from ${msg.from} to ${msg.to}; it may only send from ${peer ?? 'a peer'} to ${this.identity.address}`,
          { from: msg.from, to: msg.to },
        ),
      );
    }
    // The answer to a conversation's request comes through that conversation's stub: the inbox
    // may speak for any peer, so it may not settle what another instance carries.
    if (peer === undefined && msg.type === 'response' && this.#scopes.has(msg.from)) {
      return report(
        new ProtoflyError(
          'PF_ERR_SPOOF',
          `the inbox stub ${d.domain}/${d.name} answered ${msg.id} for ${msg.from}, whose conversation another instance carries`,
          { from: msg.from, id: msg.id },
        ),
      );
    }
    if (peer === undefined && msg.type !== 'response' && !this.#conversations.has(msg.from)) {
      this.emit(
        'conversation',
        this.#begin(msg.from, this.#versions.current(d.domain) ?? instance.pkg, true),
      );
    }
    if (this.#scopes.get(msg.from)?.park(instance.pkg, msg)) return;
    this.#deliver(instance.pkg, msg, report);
  }

  /** Puts an inbound message on the bus, unless another version of its stub delivered it already. */
  #deliver(pkg: StubPackage, msg: Message, report: (err: ProtoflyError) => void): void {
    if (this.#versions.duplicate(pkg.descriptor.domain, msg)) return;
    try {
      this.bus.send(msg);
    } catch (err) {
      report(asProtoflyError(err, 'PF_ERR_SANDBOX'));
    }
  }

  /** Resolves when the conversation's stub is live; rejects when it fails or takes too long. */
  #live(conversation: Conversation): Promise<void> {
    if (conversation.status === 'live') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        done();
        reject(
          new ProtoflyError(
            'PF_ERR_CONVERSATION',
            `the stub for ${conversation.peer} did not go live within ${this.#liveTimeoutMs} ms (status ${conversation.status})`,
          ),
        );
      }, this.#liveTimeoutMs);
      const offError = conversation.on('error', (err) => {
        done();
        reject(err);
      });
      const offStatus = conversation.on('status', (status, detail) => {
        if (status === 'live') {
          done();
          resolve();
        } else if (status === 'failed' || status === 'stopped') {
          done();
          reject(
            new ProtoflyError(
              'PF_ERR_CONVERSATION',
              `the stub for ${conversation.peer} ${status}: ${detail ?? ''}`,
            ),
          );
        }
      });
      const done = () => {
        clearTimeout(timer);
        offError();
        offStatus();
      };
    });
  }

  /**
   * Asks for a conversation's request to be withdrawn: taken out of the scope's hold if it is
   * there, else the stub is asked (see {@link WITHDRAW}). True when it will not be delivered.
   */
  async #withdraw(scope: ConversationScope, msg: Message): Promise<boolean> {
    if (scope.withdraw(msg.id)) return true;
    if (scope.disposed) return false;
    const res = await this.bus.request(
      request('execute', msg.from, msg.to, { method: WITHDRAW, params: { id: msg.id } }),
    );
    return res.body.code >= 200 && res.body.code < 300;
  }

  /** A message for this runtime's user, from a stub: to its conversation, answered 200, 400 or 503. */
  #toApp(msg: Message): void {
    if (msg.type === 'response') {
      if (this.#conversations.get(msg.from)?.settle(msg as ResponseMessage)) return;
      // A response nobody waits for any more (its request settled): nothing to answer.
      return this.emit(
        'error',
        new ProtoflyError('PF_ERR_NO_ROUTE', `late response ${msg.id} from ${msg.from}`),
      );
    }
    const conversation = this.#conversations.get(msg.from);
    const code = conversation ? conversation.deliver(msg) : Code.NOT_FOUND;
    this.bus.send(response(msg, code));
  }
}
