// A little over 400 lines, for one thing: a carrier domain's versions, watching, swaps and
// unloading share one state (see Carriers).
// One module, not the package's index: a page's bundle takes only this.
import lt from 'semver/functions/lt.js';
import { domainOf } from '../core/address.js';
import { asProtoflyError, isProtoflyError, type ProtoflyError } from '../core/errors.js';
import { Emitter } from '../core/events.js';
import type { SandboxHost, StubHandle } from '../core/host.js';
import type { Message } from '../core/message.js';
import type { StubPackage } from '../core/plugin.js';
import type { StubStatus } from '../core/stub.js';
import type { Bus } from './bus.js';
import { pluginConfig } from './config.js';
import { type Carrier, carrierOf } from './conversation.js';
import type { Loader } from './loader.js';
import type { RuntimeIdentity, RuntimeOptions } from './runtime.js';
import type { Activation, ConversationScope } from './scope.js';
import { type SwapLink, swapLive } from './swap.js';
import { UpdateWatcher } from './updates.js';
import { Versions, versionOf } from './versions.js';

/**
 * What a new version of a domain's stub does to a runtime:
 *
 * - `pin`: nothing; the runtime keeps the version it first verified, for every conversation.
 * - `new-conversations` (the default): new conversations (and the inbox) use it; running ones
 *   keep theirs until they end, then the old version is unloaded from the sandbox.
 * - `live`: running conversations move to it too (a live swap, see swap.ts).
 */
export type UpdatePolicy = 'pin' | 'new-conversations' | 'live';

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

export interface CarriersEvents {
  /** A live swap moved a conversation (or the inbox) to another version, or was rolled back. */
  version(event: VersionEvent): void;
  update(event: UpdateEvent): void;
  unload(carrier: Carrier): void;
  error(err: ProtoflyError): void;
}

/** What the carriers take of the runtime's options (see there). */
export type CarriersOptions = Pick<
  RuntimeOptions,
  'identity' | 'loader' | 'host' | 'stubConfig' | 'updates' | 'swapTimeoutMs' | 'watch'
>;

/** What the carriers need from the runtime they serve. */
export interface CarriersLink {
  /** The runtime's bus, where inbound messages go. */
  readonly bus: Bus;
  /** A message an instance sends into the runtime: the runtime routes it. */
  fromStub(instance: Activation, scope: ConversationScope, msg: Message): void;
  /** The scopes that run an instance now, the inbox's first: a new version may move them. */
  scopes(): Iterable<ConversationScope>;
}

/**
 * The carrier domains of a runtime: the domains whose stubs carry its conversations and its
 * inbox. Per domain, which version new conversations get (the update policy, see
 * {@link UpdatePolicy}), the watching of its catalogue for new versions while it runs
 * instances, the live swaps that move running ones, swaps tried again once an unreachable
 * carrier is back, and the unloading of versions that run nothing any more. It starts and stops
 * every stub instance, so that it counts them; where their messages go is the runtime's.
 */
export class Carriers extends Emitter<CarriersEvents> {
  readonly #link: CarriersLink;
  readonly #identity: RuntimeIdentity;
  readonly #loader: Loader;
  readonly #host: SandboxHost;
  readonly #stubConfig: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly #policies: Readonly<Record<string, UpdatePolicy>>;
  readonly #swapTimeoutMs: number;
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
  /** Scopes whose swap found the carrier unreachable: swapped again once they are live. */
  readonly #deferred = new WeakSet<ConversationScope>();
  #closed = false;

  constructor(options: CarriersOptions, link: CarriersLink, onListenerError: (err: unknown) => void) {
    super(onListenerError);
    this.#link = link;
    this.#identity = options.identity;
    this.#loader = options.loader;
    this.#host = options.host;
    this.#stubConfig = options.stubConfig ?? {};
    this.#policies = options.updates ?? {};
    this.#swapTimeoutMs = options.swapTimeoutMs ?? 2000;
    this.#watcher = new UpdateWatcher(
      { ...options.watch, catalogue: this.#loader.catalogue },
      onListenerError,
    );
    this.#watcher.on('update', (domain, notice) => {
      if (notice?.kind !== 'backend') this.#check(domain);
    });
    this.#watcher.on('error', (err) => this.emit('error', err));
    this.#swapLink = {
      prepare: (pkg) => this.#host.prepare(pkg),
      start: (scope, pkg, snapshot) => this.start(pkg, scope, snapshot),
      stop: (instance) => this.stop(instance),
      deliver: (pkg, msg) => this.deliver(pkg, msg, (err) => this.emit('error', err)),
    };
  }

  /** The update policy for a carrier domain. */
  policy(domain: string): UpdatePolicy {
    return this.#policies[domain] ?? this.#policies['*'] ?? 'new-conversations';
  }

  /** The version new conversations of `domain` get, once one was chosen. */
  current(domain: string): StubPackage | undefined {
    return this.#versions.current(domain);
  }

  /**
   * The version of `domain`'s stub a new conversation gets: the pinned one, or what the loader
   * verifies now (then taken, see {@link #adopt}). While the catalogue is away or serves a
   * version that fails verification, the version in use stays good.
   */
  async packageFor(domain: string): Promise<StubPackage> {
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
   * What a new instance of `domain` needs, asked at once: the version ({@link packageFor}) and
   * the token it is given. The token comes from this runtime's own identity (its home domain),
   * needs nothing the verification yields, and reaches the stub only once the package passed
   * every check; so the load does not wait for it after verifying. A token asked for a load that
   * then fails is dropped unused.
   */
  async prepare(domain: string): Promise<{ pkg: StubPackage; token: Promise<string | undefined> }> {
    const token = (async () => this.#identity.token?.(domain))();
    // Its failure is the instance's, at activation; when no instance starts, nobody's.
    token.catch(() => {});
    return { pkg: await this.packageFor(domain), token };
  }

  /**
   * Starts an instance of `pkg` for `scope` (counted in until {@link stop}); its status
   * reports go to the scope, which knows whether it carries the conversation. `token`: the one
   * {@link prepare} asked for `pkg`'s domain; otherwise one is asked now.
   */
  start(
    pkg: StubPackage,
    scope: ConversationScope,
    snapshot?: unknown,
    token?: Promise<string | undefined>,
  ): Activation {
    this.#versions.started(pkg);
    const domain = pkg.descriptor.domain;
    const instance: Activation = {
      pkg,
      status: 'created',
      started: this.#instantiate(
        pkg,
        scope.peer,
        snapshot,
        token,
        (status, detail, error) => {
          if (error) {
            // Recorded first: whoever hears of it may ask whether it is the instance's failure.
            instance.failure = error;
            this.report(scope, instance, error);
          }
          // Watched from when an instance runs or retries, not from its start: the update
          // stream's connection and the check that follows it would compete with its load, and
          // that check covers whatever was published meanwhile.
          if (status === 'live' || status === 'disconnected') this.#watch(domain);
          scope.status(instance, status, detail);
        },
        (msg) => this.#link.fromStub(instance, scope, msg),
        (err) => {
          instance.refusal = err;
          this.report(scope, instance, err);
        },
      ),
    };
    return instance;
  }

  /** Stops an instance once its activation settled, and counts it out; unloads its version when that was its last instance and it is superseded. */
  stop(instance: Activation): Promise<void> {
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

  /**
   * What an instance did wrong: the conversation's (or, for the inbox, the runtime's) concern
   * when it carries the conversation; a swap candidate's failure is the cause its swap reports,
   * and anything else it does is the runtime's.
   */
  report(scope: ConversationScope, instance: Activation, err: ProtoflyError): void {
    scope.error(instance, err, (e) => {
      if (instance !== scope.candidate || !isProtoflyError(e, 'PF_ERR_SANDBOX')) this.emit('error', e);
    });
  }

  /** Puts an inbound message on the runtime's bus, unless another version of its stub delivered it already. */
  deliver(pkg: StubPackage, msg: Message, report: (err: ProtoflyError) => void): void {
    if (this.#versions.duplicate(pkg.descriptor.domain, msg)) return;
    try {
      this.#link.bus.send(msg);
    } catch (err) {
      report(asProtoflyError(err, 'PF_ERR_SANDBOX'));
    }
  }

  /** `scope`'s instance is live (again): a swap that found the carrier unreachable is tried again. */
  resume(scope: ConversationScope): void {
    if (this.#deferred.delete(scope)) this.#swap(scope);
  }

  /** Ends the watching of catalogues; no swap or check starts any more. */
  close(): void {
    this.#closed = true;
    this.#watcher.close();
    this.#unwatch.clear();
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
        lt(pkg.descriptor.version, current.descriptor.version))
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
    for (const scope of this.#link.scopes()) {
      // The inbox moves under any policy but `pin`.
      if (
        scope.current?.pkg.descriptor.domain === domain &&
        (scope.peer === undefined || policy === 'live')
      ) {
        this.#swap(scope);
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
        await this.packageFor(domain).catch((err: unknown) =>
          this.emit('error', asProtoflyError(err, 'PF_ERR_SANDBOX')),
        );
      }
      this.#checking.delete(domain);
    })();
  }

  /** Queues a live swap of `scope` to its domain's current version. */
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
    const peer = scope.peer === undefined ? {} : { peer: scope.peer };
    const [carrier, previous] = [carrierOf(to.descriptor), carrierOf(from.pkg.descriptor)];
    const { held, heldMs } = outcome;
    if (outcome.ok) {
      this.emit('version', { ...peer, carrier, previous, change: 'swap', held, heldMs });
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
      ...peer,
      carrier: previous,
      attempted: carrier,
      change: 'rollback',
      held,
      heldMs,
      error,
    });
  }

  /**
   * Whom an inbox may open conversations for: the home domain's, any user or hyperty (the user
   * trusts it to route what any domain sends); a domain where the user is only a guest, its own
   * users and hyperties alone, so that it cannot pass for another domain's.
   */
  #inboxSenders(domain: string): string[] {
    if (domain === domainOf(this.#identity.address)) return ['user://', 'hyperty://'];
    return [`user://${domain}/`, `hyperty://${domain}/`];
  }

  #unload(pkg: StubPackage): void {
    this.#host.unload(pkg);
    this.emit('unload', carrierOf(pkg.descriptor));
  }

  /** Listens for new versions of `domain` while it runs instances here, unless it is pinned. */
  #watch(domain: string): void {
    if (
      this.#closed ||
      this.policy(domain) === 'pin' ||
      this.#unwatch.has(domain) ||
      !this.#versions.runs(domain)
    ) {
      return;
    }
    this.#unwatch.set(domain, this.#watcher.subscribe(domain));
  }

  /**
   * Activates a stub instance for `peer` (or the inbox, for no peer). The host lets it send only
   * from the peer (the inbox: see {@link #inboxSenders}); the runtime adds that it may only send
   * to this runtime's user, and that the inbox may not speak as this user.
   */
  async #instantiate(
    pkg: StubPackage,
    peer: string | undefined,
    snapshot: unknown,
    asked: Promise<string | undefined> | undefined,
    onStatus: (status: StubStatus, detail?: string, error?: ProtoflyError) => void,
    send: (msg: Message) => void,
    report: (err: ProtoflyError) => void,
  ): Promise<StubHandle> {
    const d = pkg.descriptor;
    const { address } = this.#identity;
    const token = await (asked ?? this.#identity.token?.(d.domain));
    return this.#host.instantiate(pkg, {
      id: `${d.domain}/${d.name}@${d.version}→${peer ?? 'inbox'}`,
      identity: token === undefined ? { address } : { address, token },
      config: pluginConfig(d, this.#stubConfig[d.domain]),
      from: peer === undefined ? this.#inboxSenders(d.domain) : [peer],
      ...(snapshot === undefined ? {} : { snapshot }),
      delegate: {
        onStatus,
        onRefused: report,
      },
      send,
    });
  }
}
